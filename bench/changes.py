"""Whole changes through intent, next to terraform and next to the raw provider floor.

    .venv/bin/python bench/changes.py [--resources 1,10,50] [--delete] [--runs 3]

Starts the real stack (``intent up``: Temporal dev server, sandbox moto, worker,
server) in a temporary data directory. For each size N the workload is S3 buckets
and, for every bucket but a lone one, an ``aws_s3_bucket_versioning`` referring to it
(N=50: 25 + 25; N=1: one bucket). Each run creates it three ways, side by side:

- **intent**: one change over the REST API, waited for (lease, discovery, plan,
  policy, apply, history: a durable Temporal workflow);
- **terraform**: ``terraform apply -parallelism=10`` of the same resources (terraform
  on PATH, the same provider binary through a filesystem mirror, the same moto);
- **floor**: the same operations straight through the provider client (plan, then
  apply; at most 10 at once, each starting as soon as what it refers to exists): what
  any tool driving this provider must at least spend.

With ``--delete`` each run then deletes them again the same three ways (intent: the
change, then its confirmation; terraform: ``destroy -parallelism=10``; floor: refresh,
plan and apply each delete, dependents first). Ratios are taken per run and printed
as min / median / max; nothing is asserted. Also printed: the first change on an
empty data dir (time after the server reported healthy) and one bucket with a policy
attached.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.providers import Moto, Terraform, find_aws_provider, installed_aws
from providers import ProviderClient, ProviderPool, ResourceState, SchemaCache

WINDOW = 10  # terraform's default -parallelism, and the floor's

ONLY_BUCKETS = """package spacelift

allow contains "buckets are fine" if startswith(input.resource.resource_type, "aws_s3_bucket")
deny contains "only buckets here" if not startswith(input.resource.resource_type, "aws_s3_bucket")
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


@dataclass
class Stack:
    process: subprocess.Popen[str]
    base: str
    token: str
    sandbox: str
    healthy_at: float


def start_stack(data: Path) -> Stack:
    # The API key is made before the stack starts (it migrates the empty data dir), so
    # the first change goes out the moment the server reports healthy.
    token = subprocess.run(
        [sys.executable, "-m", "cli", "tokens", "create", "--name", "bench-admin",
         "--role", "space-admin", "--label", "bench", "--data-dir", str(data)],
        check=True, capture_output=True, text=True,
    ).stdout.strip().splitlines()[-1]  # fmt: skip
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
            # ``intent up`` prints this once /healthz answered 200.
            return Stack(
                process,
                f"http://127.0.0.1:{port}",
                token,
                f"http://127.0.0.1:{sandbox}",
                time.perf_counter(),
            )
    raise SystemExit("intent up did not start")


# -- the workload ---------------------------------------------------------------------


@dataclass
class Resource:
    rid: str  # intent resource id and terraform resource name
    type: str
    config: dict[str, Any]
    refers_to: str | None = None  # the bucket a versioning belongs to


def workload(n: int, tag: str) -> list[Resource]:
    buckets = max(1, math.ceil(n / 2))
    out = [
        Resource(f"b{i}-{tag}", "aws_s3_bucket", {"bucket": f"b{i}-{tag}"}) for i in range(buckets)
    ]
    for i in range(n - buckets):
        bucket = f"b{i}-{tag}"
        out.append(
            Resource(
                f"v{i}-{tag}",
                "aws_s3_bucket_versioning",
                {"versioning_configuration": [{"status": "Enabled"}]},
                refers_to=bucket,
            )
        )
    return out


def intent_operations(resources: list[Resource]) -> list[dict[str, Any]]:
    ops = []
    for r in resources:
        config = dict(r.config)
        if r.refers_to:
            config["bucket"] = f"${{{r.refers_to}.id}}"
        ops.append(
            {"kind": "create", "resource_id": r.rid, "resource_type": r.type, "config": config}
        )
    return ops


def terraform_resources(resources: list[Resource]) -> dict[str, Any]:
    block: dict[str, dict[str, Any]] = {}
    for r in resources:
        config = dict(r.config)
        if r.refers_to:
            config["bucket"] = f"${{aws_s3_bucket.{r.refers_to}.id}}"
        block.setdefault(r.type, {})[r.rid] = config
    return block


# -- intent over REST ------------------------------------------------------------------


def settled(body: dict[str, Any], want: str) -> dict[str, Any]:
    if body.get("status") != want:
        raise SystemExit(f"change is {body.get('status')}, not {want}: {body}")
    return body


async def intent_create(http: httpx.AsyncClient, project: str, resources: list[Resource]) -> float:
    began = time.perf_counter()
    response = await http.post(
        f"/api/v1/projects/{project}/changes",
        json={"operations": intent_operations(resources), "wait_seconds": 300},
    )
    elapsed = time.perf_counter() - began
    settled(response.json(), "applied")
    return elapsed


async def intent_delete(http: httpx.AsyncClient, project: str, resources: list[Resource]) -> float:
    ops = [{"kind": "delete", "resource_id": r.rid} for r in resources]
    began = time.perf_counter()
    response = await http.post(
        f"/api/v1/projects/{project}/changes", json={"operations": ops, "wait_seconds": 300}
    )
    body = settled(response.json(), "awaiting_confirmation")
    done = await http.post(
        f"/api/v1/changes/{body['change_id']}/confirm", json={"wait_seconds": 300}
    )
    elapsed = time.perf_counter() - began
    settled(done.json(), "applied")
    return elapsed


# -- the floor: straight through the provider client ------------------------------------


async def floor(
    client: ProviderClient, resources: list[Resource], *, delete: dict[str, ResourceState] | None
) -> tuple[float, dict[str, ResourceState]]:
    """Plan and apply every resource (or delete, given their states) at most WINDOW at
    once, each as soon as what it depends on is done; returns (seconds, states)."""
    window = asyncio.Semaphore(WINDOW)
    done = {r.rid: asyncio.Event() for r in resources}
    states: dict[str, ResourceState] = {}
    users = {r.refers_to: r.rid for r in resources if r.refers_to}

    async def one(r: Resource) -> None:
        if delete is None:
            if r.refers_to:
                await done[r.refers_to].wait()
            config = dict(r.config)
            if r.refers_to:
                config["bucket"] = states[r.refers_to].attributes["id"]
            async with window:
                change = await client.plan(r.type, None, config)
                result = await client.apply(change, config)
            assert result.state is not None
            states[r.rid] = result.state
        else:
            if r.rid in users:  # a bucket goes after its versioning
                await done[users[r.rid]].wait()
            async with window:
                change = await client.plan(r.type, delete[r.rid], None)
                await client.apply(change)
        done[r.rid].set()

    began = time.perf_counter()
    await asyncio.gather(*(one(r) for r in resources))
    return time.perf_counter() - began, states


# -- runs -----------------------------------------------------------------------------


@dataclass
class Samples:
    values: dict[str, list[float]] = field(default_factory=dict)

    def add(self, key: str, value: float) -> None:
        self.values.setdefault(key, []).append(value)

    def get(self, key: str) -> list[float]:
        return self.values.get(key, [])


def spread(values: list[float], fmt: Callable[[float], str]) -> str:
    if not values:
        return "-"
    return " / ".join(fmt(v) for v in (min(values), statistics.median(values), max(values)))


def seconds(v: float) -> str:
    return f"{v:6.2f}s" if v >= 1 else f"{v * 1000:5.0f}ms"


def ratio(v: float) -> str:
    return f"{v:5.2f}x"


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.2f} (1 min) {five:.2f} (5 min)"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resources", default="1,10,50", help="sizes, e.g. 1,10,50")
    parser.add_argument("--delete", action="store_true", help="delete them again, timed")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-terraform", action="store_true")
    args = parser.parse_args()
    sizes = [int(s) for s in args.resources.split(",") if s]
    logging.getLogger("providers.legacy_sdk").setLevel(logging.ERROR)
    binary = aws_from_mirror()
    print(f"before: {load()}", flush=True)
    samples = Samples()
    with tempfile.TemporaryDirectory(prefix="intent-bench-") as tmp:
        workdir = Path(tmp)
        stack = start_stack(workdir / "data")
        moto = Moto(stack.sandbox, stack.process)  # type: ignore[arg-type]
        pool = ProviderPool(
            schema_cache=SchemaCache(workdir / "schemas"),
            runtime_dir=workdir / "run",
            concurrency=WINDOW,
        )
        try:
            terraform = None if args.no_terraform else Terraform(binary, moto, workdir)
            headers = {"Authorization": f"Bearer {stack.token}"}
            async with httpx.AsyncClient(base_url=stack.base, headers=headers, timeout=600) as http:
                await http.post("/api/v1/projects", json={"name": "bench"})
                await http.post("/api/v1/projects/bench/lock")
                # The first change on an empty data dir, from the moment it was healthy.
                await intent_create(http, "bench", workload(1, "first"))
                samples.add("first", time.perf_counter() - stack.healthy_at)
                async with pool.client(
                    installed_aws(binary), moto.provider_config, moto.env
                ) as client:
                    await floor(client, workload(1, "warm"), delete=None)
                    for run in range(args.runs):
                        for n in sizes:
                            await one_run(http, client, terraform, n, run, args.delete, samples)
                            print(f"  size {n} run {run + 1} done ({load()})", flush=True)
                    # One bucket with a policy attached (the policy step evaluates it).
                    policy = {"name": "buckets", "body": ONLY_BUCKETS}
                    await http.post("/api/v1/policies", json=policy)
                    await http.put("/api/v1/projects/bench/policies/buckets")
                    for run in range(args.runs):
                        tag = f"p{run}-{uuid.uuid4().hex[:6]}"
                        took = await intent_create(http, "bench", workload(1, tag))
                        samples.add("policy", took)
        finally:
            await pool.aclose()
            stack.process.send_signal(signal.SIGINT)
            stack.process.wait(60)
    report(samples, sizes, args)


async def one_run(
    http: httpx.AsyncClient,
    client: ProviderClient,
    terraform: Terraform | None,
    n: int,
    run: int,
    delete: bool,
    samples: Samples,
) -> None:
    tag = uuid.uuid4().hex[:6]
    intent = workload(n, f"i{tag}")
    samples.add(f"intent create {n}", await intent_create(http, "bench", intent))
    if delete:
        samples.add(f"intent delete {n}", await intent_delete(http, "bench", intent))
    raw = workload(n, f"f{tag}")
    took, states = await floor(client, raw, delete=None)
    samples.add(f"floor create {n}", took)
    if delete:
        samples.add(f"floor delete {n}", (await floor(client, raw, delete=states))[0])
    if terraform is not None:
        tf = workload(n, f"t{tag}")
        work = await asyncio.to_thread(terraform.init, f"tf-{n}-{run}", terraform_resources(tf))
        took = await asyncio.to_thread(terraform.run, work, "apply", "-parallelism=10")
        samples.add(f"terraform create {n}", took)
        if delete:
            took = await asyncio.to_thread(terraform.run, work, "destroy", "-parallelism=10")
            samples.add(f"terraform delete {n}", took)
    for what in ("create", "delete") if delete else ("create",):
        mine = samples.get(f"intent {what} {n}")[-1]
        samples.add(f"floor ratio {what} {n}", mine / samples.get(f"floor {what} {n}")[-1])
        if terraform is not None:
            samples.add(f"tf ratio {what} {n}", samples.get(f"terraform {what} {n}")[-1] / mine)


def report(samples: Samples, sizes: list[int], args: argparse.Namespace) -> None:
    print()
    print(f"after: {load()}; {args.runs} runs; min / median / max")
    print(
        f"first change on an empty data dir, after healthy: {spread(samples.get('first'), seconds)}"
    )
    print(f"one bucket, one policy attached: {spread(samples.get('policy'), seconds)}")
    print()
    header = f"{'':16}{'intent':>26}{'terraform':>26}{'floor':>26}"
    print(header + f"{'terraform/intent':>26}{'intent/floor':>26}")
    for n in sizes:
        for what in ("create", "delete") if args.delete else ("create",):
            print(
                f"{what + ' ' + str(n):16}"
                f"{spread(samples.get(f'intent {what} {n}'), seconds):>26}"
                f"{spread(samples.get(f'terraform {what} {n}'), seconds):>26}"
                f"{spread(samples.get(f'floor {what} {n}'), seconds):>26}"
                f"{spread(samples.get(f'tf ratio {what} {n}'), ratio):>26}"
                f"{spread(samples.get(f'floor ratio {what} {n}'), ratio):>26}"
            )


if __name__ == "__main__":
    asyncio.run(main())
