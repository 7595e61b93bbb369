"""A whole change through intent, next to ``terraform apply`` of the same bucket.

    .venv/bin/python bench/changes.py [--runs 10]

Starts the real stack (``intent up``: Temporal dev server, sandbox moto, worker,
server) in a temporary data directory and times, over the REST API, one S3 bucket
created end to end: lease check, provider discovery, plan, policy check, apply and
history, as a durable Temporal workflow. The same bucket is then applied with
``terraform apply`` (terraform on PATH, the same provider binary through a filesystem
mirror, the same moto endpoint). Both numbers are printed side by side, with the
ratio; nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.providers import Moto, bench_terraform, find_aws_provider

ONLY_BUCKETS = """package spacelift

allow contains "buckets are fine" if input.resource.resource_type == "aws_s3_bucket"
deny contains "only buckets here" if input.resource.resource_type != "aws_s3_bucket"
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def aws_from_mirror() -> Path:
    """hashicorp/aws from a filesystem mirror, which the stack is then told to use."""
    binary = find_aws_provider()
    if binary is None:
        raise SystemExit("no hashicorp/aws in a mirror: set INTENT_PROVIDER_MIRRORS")
    os.environ.setdefault("INTENT_PROVIDER_MIRRORS", str(binary.parents[5]))
    return binary


def start_stack(data: Path) -> tuple[subprocess.Popen[str], str, str, int]:
    port, sandbox = free_port(), free_port()
    argv = [
        sys.executable, "-m", "cli", "up", "--data-dir", str(data), "--port", str(port),
        "--temporal-port", str(free_port()), "--temporal-ui-port", str(free_port()),
        "--sandbox-port", str(sandbox),
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "INTENT_DATA_DIR"}
    process = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    assert process.stdout is not None
    for line in process.stdout:
        if "Press Ctrl-C" in line:
            # First start made the user admin; an API key of its acts for the bench.
            key = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "cli",
                    "tokens",
                    "create",
                    "--name",
                    "admin",
                    "--data-dir",
                    str(data),
                ],
                capture_output=True,
                text=True,
                check=True,
                env=env,
            ).stdout.strip()
            return process, f"http://127.0.0.1:{port}", key, sandbox
    raise SystemExit("intent up did not start")


def timed_change(http: httpx.Client, project: str, operation: dict[str, Any]) -> float:
    began = time.perf_counter()
    response = http.post(
        f"/api/v1/projects/{project}/changes",
        json={"operations": [operation], "wait_seconds": 120},
    )
    elapsed = time.perf_counter() - began
    body = response.json()
    if body.get("status") not in ("applied", "awaiting_confirmation"):
        raise SystemExit(f"change did not apply: {body}")
    return elapsed


def run(http: httpx.Client, project: str, runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        name = f"bench-{uuid.uuid4().hex[:10]}"
        samples.append(
            timed_change(
                http,
                project,
                {
                    "kind": "create",
                    "resource_id": name,
                    "resource_type": "aws_s3_bucket",
                    "config": {"bucket": name},
                },
            )
        )
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--terraform-runs", type=int, default=3)
    args = parser.parse_args()
    binary = aws_from_mirror()
    with tempfile.TemporaryDirectory(prefix="intent-bench-") as tmp:
        process, base, token, sandbox = start_stack(Path(tmp) / "data")
        try:
            with httpx.Client(
                base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=180
            ) as http:
                http.post("/api/v1/projects", json={"name": "bench"})
                http.post("/api/v1/projects/bench/lock")
                first = run(http, "bench", 1)[0]  # provider install, launch, schema cache
                warm = run(http, "bench", args.runs)
                http.post("/api/v1/policies", json={"name": "buckets", "body": ONLY_BUCKETS})
                http.put("/api/v1/projects/bench/policies/buckets")
                guarded = run(http, "bench", args.runs)
            moto = Moto(f"http://127.0.0.1:{sandbox}", process)  # type: ignore[arg-type]
            terraform = bench_terraform(binary, moto, args.terraform_runs, Path(tmp))
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(60)
    rows = [
        ("first change (installs + launches the provider)", first),
        ("warm, no policy", statistics.median(warm)),
        ("warm, one policy attached", statistics.median(guarded)),
    ]
    if terraform is not None:
        rows.append(("terraform apply (same provider and endpoint)", terraform))
    print(f"one S3 bucket as a whole change (REST, Temporal, provider, history), {args.runs} runs")
    for label, seconds in rows:
        print(f"  {label:50} {seconds * 1000:8.1f} ms")
    if terraform is not None:
        ratio = terraform / statistics.median(warm)
        print(f"  {'ratio terraform / intent (warm)':50} {ratio:8.1f}x")


if __name__ == "__main__":
    main()
