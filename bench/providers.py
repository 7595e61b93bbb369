"""Provider runtime latencies against moto, next to ``terraform apply`` of the same bucket.

    .venv/bin/python bench/providers.py [--runs 20] [--provider PATH]

Measures, with the real hashicorp/aws provider and a moto server started here:

- cold start: launch + GetProviderSchema + writing the schema cache;
- cached-schema start: launch + configure, schema read from the cache;
- warm plan and apply of an S3 bucket (median / p95 over ``--runs``);
- one bucket end to end: intent (warm pool: plan + apply) and intent from a cold
  process (cached schema) versus ``terraform apply`` (terraform 1.11 on PATH, the same
  provider binary through a filesystem mirror, the same moto endpoint).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from providers import (
    InstalledProvider,
    ProviderAddress,
    ProviderPool,
    SchemaCache,
)
from providers._hashcache import cached_sha256

AWS_VERSION = "5.100.0"
MIRRORS = ("/opt/tf-plugins", "~/.terraform.d/plugins", "~/.local/share/terraform/plugins")


@dataclass
class Moto:
    url: str
    process: subprocess.Popen[bytes]

    @property
    def env(self) -> dict[str, str]:
        return {
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": self.url,
        }

    @property
    def provider_config(self) -> dict[str, Any]:
        return {
            "region": "us-east-1",
            "skip_credentials_validation": True,
            "skip_requesting_account_id": True,
            "skip_metadata_api_check": True,
            "s3_use_path_style": True,
        }

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def start_moto() -> Moto:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    moto = Moto(f"http://127.0.0.1:{port}", proc)
    for _ in range(300):
        with contextlib.suppress(OSError):
            urllib.request.urlopen(f"{moto.url}/moto-api/", timeout=1).close()
            return moto
        time.sleep(0.1)
    moto.stop()
    raise SystemExit("moto server did not start")


def find_aws_provider() -> Path | None:
    # The mirrors the project uses (make exports them), then the usual places.
    configured = [p for p in os.environ.get("INTENT_PROVIDER_MIRRORS", "").split(":") if p]
    for root in (*configured, *MIRRORS):
        base = Path(root).expanduser() / "registry.terraform.io/hashicorp/aws" / AWS_VERSION
        for candidate in sorted(base.glob("*/terraform-provider-aws*")):
            if os.access(candidate, os.X_OK):
                return candidate
    return None


def installed_aws(path: Path) -> InstalledProvider:
    return InstalledProvider(
        address=ProviderAddress.parse("hashicorp/aws"),
        version=AWS_VERSION,
        path=path,
        sha256=cached_sha256(Path(tempfile.gettempdir()) / "intent-test-sha256", path),
        protocol_versions=(5,),
    )


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms"


async def _timed(fn: Callable[[], Awaitable[Any]]) -> float:
    started = time.perf_counter()
    await fn()
    return time.perf_counter() - started


def _stats(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered), p95


async def bench_intent(
    installed: InstalledProvider, moto: Moto, runs: int, workdir: Path
) -> dict[str, Any]:
    config, env = moto.provider_config, moto.env
    cache_dir = workdir / "schemas"
    out: dict[str, Any] = {}

    cold_pool = ProviderPool(schema_cache=SchemaCache(cache_dir), runtime_dir=workdir / "run")
    out["cold_start"] = await _timed(lambda: cold_pool.schema(installed))
    await cold_pool.aclose()

    # cached-schema start, and a whole bucket from a cold process
    starts, cold_e2e = [], []
    for _ in range(3):
        pool = ProviderPool(schema_cache=SchemaCache(cache_dir), runtime_dir=workdir / "run")
        began = time.perf_counter()
        async with pool.client(installed, config, env) as client:
            starts.append(time.perf_counter() - began)
            change = await client.plan(
                "aws_s3_bucket", None, {"bucket": f"cold-{uuid.uuid4().hex[:8]}"}
            )
            await client.apply(change)
            cold_e2e.append(time.perf_counter() - began)
        await pool.aclose()
    out["cached_start"] = statistics.median(starts)
    out["cold_e2e"] = statistics.median(cold_e2e)

    pool = ProviderPool(schema_cache=SchemaCache(cache_dir), runtime_dir=workdir / "run")
    try:
        async with pool.client(installed, config, env) as client:
            # warm up the process and the lazily loaded type schema
            await client.plan("aws_s3_bucket", None, {"bucket": "warmup-bucket"})
            plans, applies, e2e, updates = [], [], [], []
            for _ in range(runs):
                name = f"bench-{uuid.uuid4().hex[:10]}"
                began = time.perf_counter()
                change = await client.plan("aws_s3_bucket", None, {"bucket": name})
                planned = time.perf_counter()
                result = await client.apply(change)
                done = time.perf_counter()
                plans.append(planned - began)
                applies.append(done - planned)
                e2e.append(done - began)
                assert result.state is not None
                began = time.perf_counter()
                await client.plan(
                    "aws_s3_bucket", result.state, {"bucket": name, "tags": {"k": "v"}}
                )
                updates.append(time.perf_counter() - began)
            out["plan"] = _stats(plans)
            out["apply"] = _stats(applies)
            out["warm_e2e"] = _stats(e2e)
            out["plan_update"] = _stats(updates)
    finally:
        await pool.aclose()
    return out


class Terraform:
    """terraform (1.11 on PATH) driving the same provider binary, through a filesystem
    mirror, against the same moto endpoint: the yardstick."""

    def __init__(self, binary: Path, moto: Moto, workdir: Path) -> None:
        found = shutil.which("terraform")
        if found is None:
            raise FileNotFoundError("terraform is not on PATH")
        self.terraform = found
        self.moto = moto
        self.workdir = workdir
        # binary = MIRROR/registry.terraform.io/hashicorp/aws/VERSION/OS_ARCH/terraform-…
        mirror = binary.parents[5]
        host = binary.parents[4].name
        self.source = f"{host}/hashicorp/aws"
        self.version = binary.parents[1].name
        cli_config = workdir / "terraformrc"
        cli_config.write_text(
            "provider_installation {\n"
            f'  filesystem_mirror {{\n    path = "{mirror}"\n'
            f'    include = ["{self.source}"]\n  }}\n'
            f'  direct {{\n    exclude = ["{self.source}"]\n  }}\n'
            "}\n"
        )
        self.env = {
            k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TF_", "INTENT_"))
        }
        self.env.update(moto.env)
        self.env.update(
            {
                "TF_CLI_CONFIG_FILE": str(cli_config),
                "TF_IN_AUTOMATION": "1",
                "CHECKPOINT_DISABLE": "1",
            }
        )

    def init(self, name: str, resources: dict[str, Any]) -> Path:
        """A working directory holding ``resources`` (a ``resource`` block), initialised."""
        work = self.workdir / name
        work.mkdir()
        main = {
            "terraform": {
                "required_providers": {"aws": {"source": self.source, "version": self.version}}
            },
            "provider": {"aws": {**self.moto.provider_config}},
            "resource": resources,
        }
        (work / "main.tf.json").write_text(json.dumps(main, indent=2))
        self.run(work, "init")
        return work

    def run(self, work: Path, *command: str) -> float:
        """Seconds ``terraform COMMAND`` took in ``work``."""
        flags = ["-input=false", "-no-color"]
        if command[0] in ("apply", "destroy"):
            flags.append("-auto-approve")
        began = time.perf_counter()
        subprocess.run(
            [self.terraform, *command, *flags],
            cwd=work,
            env=self.env,
            check=True,
            capture_output=True,
        )
        return time.perf_counter() - began


def bench_terraform(binary: Path, moto: Moto, runs: int, workdir: Path) -> float | None:
    try:
        terraform = Terraform(binary, moto, workdir)
    except FileNotFoundError:
        print("terraform not on PATH: skipping the comparison")
        return None
    samples = []
    for i in range(runs):
        name = f"tf-bench-{uuid.uuid4().hex[:10]}"
        work = terraform.init(f"tf-{i}", {"aws_s3_bucket": {"b": {"bucket": name}}})
        samples.append(terraform.run(work, "apply"))
    return statistics.median(samples)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--terraform-runs", type=int, default=3)
    parser.add_argument("--provider", type=Path, default=None)
    args = parser.parse_args()
    # SDKv2 plan quirks Terraform tolerates are logged once each; not bench output.
    logging.getLogger("providers.legacy_sdk").setLevel(logging.ERROR)

    binary = args.provider or find_aws_provider()
    if binary is None:
        sys.exit("hashicorp/aws 5.100.0 not found in a filesystem mirror; pass --provider PATH")
    installed = installed_aws(binary)
    moto = start_moto()
    workdir = Path(tempfile.mkdtemp(prefix="intent-bench-"))
    try:
        intent = await bench_intent(installed, moto, args.runs, workdir)
        tf = bench_terraform(binary, moto, args.terraform_runs, workdir)
    finally:
        moto.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    print(f"hashicorp/aws {installed.version} against moto, {args.runs} warm runs\n")
    print(f"cold start (launch + schema fetch + cache) {_ms(intent['cold_start'])}")
    print(f"cached-schema start (launch + configure)   {_ms(intent['cached_start'])}")
    for label, key in [
        ("plan   create (warm)", "plan"),
        ("apply  create (warm)", "apply"),
        ("plan   update + refresh (warm)", "plan_update"),
    ]:
        median, p95 = intent[key]
        print(f"{label:<42} {_ms(median)}   p95 {_ms(p95)}")
    print()
    print("one S3 bucket, end to end                    intent     terraform apply   ratio")
    warm = intent["warm_e2e"][0]
    cold = intent["cold_e2e"]
    for label, value in [("warm pool (plan + apply)", warm), ("cold process, cached schema", cold)]:
        if tf is None:
            print(f"  {label:<40} {_ms(value)}")
        else:
            print(f"  {label:<40} {_ms(value)}   {_ms(tf)}   {tf / value:6.1f}x")


if __name__ == "__main__":
    asyncio.run(main())
