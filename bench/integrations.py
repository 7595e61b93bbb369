"""What a role session per change costs, next to one shared process with static keys.

    .venv/bin/python bench/integrations.py [--rounds 8]

The real hashicorp/aws provider against a moto server, through intent's provider pool.
Each arm plans and applies one S3 bucket per round:

- static: one warm provider process, static keys in its environment (how projects with
  keys in their environment run, and how every change ran before role sessions);
- session per change: a new change, so intent assumes the role with STS, starts a
  provider process for that session alone and serves it the credentials (what every
  change against an AWS integration pays);
- same session again: the second operation of a change (its process and credentials
  are warm).

Rounds interleave the arms so drift hits them alike; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.providers import find_aws_provider, start_moto
from integrations.aws import OnBehalf, sandbox_provider_config
from integrations.endpoint import CredentialEndpoint
from integrations.sessions import RoleSessions, SessionKey
from providers import InstalledProvider, ProviderPool, SchemaCache
from tests.support.providers import installed_aws

CONFIG = {
    "role_arn": "arn:aws:iam::123456789012:role/intent-writer",
    "external_id": "intent-bench",
    "session_seconds": 3600,
    "sandbox": True,
}


async def bucket(
    pool: ProviderPool, installed: InstalledProvider, env: dict[str, str], identity: str
) -> float:
    name = f"bench-{uuid.uuid4().hex[:10]}"
    began = time.perf_counter()
    config = sandbox_provider_config("us-east-1")
    async with pool.client(installed, config, env, identity) as client:
        change = await client.plan("aws_s3_bucket", None, {"bucket": name})
        await client.apply(change)
    return time.perf_counter() - began


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args()
    binary = find_aws_provider()
    if binary is None:
        raise SystemExit("no hashicorp/aws in a mirror: set INTENT_PROVIDER_MIRRORS")
    installed = installed_aws(binary)
    moto = start_moto()
    endpoint = CredentialEndpoint(RoleSessions())
    await endpoint.start()
    base = {"AWS_ENDPOINT_URL": moto.url, "AWS_REGION": "us-east-1"}
    static = {**base, "AWS_ACCESS_KEY_ID": "sandbox", "AWS_SECRET_ACCESS_KEY": "sandbox"}
    arms: dict[str, list[float]] = {"static": [], "session per change": [], "same session": []}
    with tempfile.TemporaryDirectory(prefix="intent-bench-") as tmp:
        runtime = Path(tmp) / "rt"
        runtime.mkdir(mode=0o711)
        pool = ProviderPool(
            size=4, schema_cache=SchemaCache(Path(tmp) / "schemas"), runtime_dir=runtime
        )
        try:
            await bucket(pool, installed, static, "")  # schema cache, page cache
            for round_ in range(args.rounds):
                arms["static"].append(await bucket(pool, installed, static, ""))
                who = OnBehalf("bench", "bench", "root", f"change-bench-{round_:026d}")
                key = SessionKey.of(
                    "bench", CONFIG, "write", "us-east-1", who, sandbox_endpoint=moto.url
                )
                began = time.perf_counter()  # STS included
                env = {**base, **await endpoint.provide(key)}
                await bucket(pool, installed, env, key.identity)
                arms["session per change"].append(time.perf_counter() - began)
                arms["same session"].append(await bucket(pool, installed, env, key.identity))
        finally:
            await pool.aclose()
            await endpoint.aclose()
            moto.stop()
    baseline = statistics.median(arms["static"])
    print(f"plan + apply of one S3 bucket through the pool, {args.rounds} interleaved rounds")
    for label, samples in arms.items():
        median = statistics.median(samples)
        print(f"  {label:22} {median * 1000:8.1f} ms   ratio {median / baseline:5.2f}")


if __name__ == "__main__":
    asyncio.run(main())
