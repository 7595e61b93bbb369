"""Drift at project scale: a whole-project refresh through intent, next to
``terraform plan -refresh-only`` of the same project exported to Terraform.

    .venv/bin/python bench/drift.py [--resources 40] [--runs 3]

Starts the real stack (``intent up``) in a temporary data directory, creates
``--resources`` SSM parameters in one change, then times:

- the interactive refresh (``POST /projects/{p}/refresh``: one change, every resource
  read, drift marked and recorded);
- ``terraform plan -refresh-only`` on the project as ``intent export --include-secrets``
  writes it (the same provider binary through the filesystem mirror, the same moto).

Medians side by side, with ratios; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.changes import aws_from_mirror, start_stack


def refresh(http: httpx.Client, project: str) -> float:
    began = time.perf_counter()
    body = http.post(f"/api/v1/projects/{project}/refresh", json={"wait_seconds": 300}).json()
    elapsed = time.perf_counter() - began
    if body.get("status") != "applied":
        raise SystemExit(f"the refresh did not finish: {body.get('status')} {body.get('message')}")
    return elapsed


def terraform_refresh(
    http: httpx.Client, project: str, binary: Path, sandbox: str, work: Path
) -> float | None:
    if shutil.which("terraform") is None:
        print("terraform not on PATH: skipping the comparison")
        return None
    files = http.post(f"/api/v1/projects/{project}/export", json={"include_secrets": True}).json()
    work.mkdir(parents=True, exist_ok=True)
    for name, text in files["files"].items():
        (work / name).write_text(text)
    rc = work / "terraformrc"
    mirror = binary.parents[5]
    rc.write_text(f'provider_installation {{\n  filesystem_mirror {{ path = "{mirror}" }}\n}}\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TF_", "INTENT_"))}
    env.update(
        {
            "AWS_ACCESS_KEY_ID": "sandbox",
            "AWS_SECRET_ACCESS_KEY": "sandbox",
            "AWS_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": sandbox,
            "TF_CLI_CONFIG_FILE": str(rc),
            "TF_IN_AUTOMATION": "1",
            "CHECKPOINT_DISABLE": "1",
            **{f"TF_VAR_{name}": "bench" for name in files["variables"]},
        }
    )
    subprocess.run(
        ["terraform", "init", "-input=false"], cwd=work, env=env, check=True, capture_output=True
    )
    began = time.perf_counter()
    subprocess.run(
        ["terraform", "plan", "-refresh-only", "-input=false", "-lock=false"],
        cwd=work, env=env, check=True, capture_output=True,
    )  # fmt: skip
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--resources", type=int, default=40)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    binary = aws_from_mirror()
    with tempfile.TemporaryDirectory(prefix="intent-bench-") as tmp:
        data = Path(tmp) / "data"
        stack = start_stack(data)
        try:
            with httpx.Client(
                base_url=stack.base, headers={"Authorization": f"Bearer {stack.token}"}, timeout=600
            ) as http:
                http.post("/api/v1/projects", json={"name": "drift"})
                http.post("/api/v1/projects/drift/lock")
                operations = [
                    {
                        "kind": "create",
                        "resource_id": f"p{i}",
                        "resource_type": "aws_ssm_parameter",
                        "config": {"name": f"/drift/p{i}", "type": "String", "value": "v"},
                    }
                    for i in range(args.resources)
                ]
                made = http.post(
                    "/api/v1/projects/drift/changes",
                    json={"operations": operations, "wait_seconds": 600},
                ).json()
                if made.get("status") != "applied":
                    raise SystemExit(f"creating the parameters failed: {json.dumps(made)[:500]}")
                refreshes = [refresh(http, "drift") for _ in range(args.runs)]
                terraform = [
                    terraform_refresh(http, "drift", binary, stack.sandbox, Path(tmp) / f"tf{i}")
                    for i in range(args.runs)
                ]
        finally:
            stack.process.send_signal(signal.SIGINT)
            stack.process.wait(60)
    intent = statistics.median(refreshes)
    print(f"drift over {args.resources} SSM parameters, median of {args.runs} runs")
    print(f"  {'intent: whole-project refresh (a change)':48} {intent * 1000:9.1f} ms")
    if all(t is not None for t in terraform):
        tf = statistics.median([t for t in terraform if t is not None])
        print(f"  {'terraform plan -refresh-only (the export)':48} {tf * 1000:9.1f} ms")
        print(f"  {'ratio terraform / intent refresh':48} {tf / intent:9.2f}x")


if __name__ == "__main__":
    main()
