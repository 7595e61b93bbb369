"""The process pool with the real hashicorp/aws provider: sharing, crashes, reaping."""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from providers import (
    ChangeAction,
    InstalledProvider,
    ProviderClient,
    ProviderCrashedError,
    ProviderPool,
    SchemaCache,
)
from tests.support import MotoServer
from tests.support.providers import provider_pids

pytestmark = pytest.mark.slow


def _environ(pid: int) -> list[bytes]:
    return Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return ") Z " not in stat


async def _wait_gone(pid: int, within: float = 10.0) -> bool:
    for _ in range(int(within / 0.05)):
        if not _alive(pid):
            return True
        await asyncio.sleep(0.05)
    return not _alive(pid)


@pytest_asyncio.fixture
async def small_pool(
    provider_runtime_dir: Path, schema_cache_dir: Path
) -> AsyncIterator[ProviderPool]:
    runtime = provider_runtime_dir / f"p{uuid.uuid4().hex[:6]}"
    pool = ProviderPool(
        size=1,
        idle_seconds=600,
        concurrency=2,
        schema_cache=SchemaCache(schema_cache_dir),
        runtime_dir=runtime,
    )
    try:
        yield pool
    finally:
        await pool.aclose()
        assert provider_pids(runtime) == []


async def test_concurrent_plans_share_one_process(
    aws_pool: ProviderPool, aws_provider: InstalledProvider, moto_server: MotoServer
) -> None:
    config, env = moto_server.provider_config, moto_server.env
    async with aws_pool.client(aws_provider, config, env) as client:
        pid = client.process.pid
        peak = 0
        done = asyncio.Event()

        async def sample() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, client.in_flight)
                await asyncio.sleep(0)

        sampler = asyncio.create_task(sample())
        changes = await asyncio.gather(
            *(
                client.plan("aws_s3_bucket", None, {"bucket": f"conc-{i}-{uuid.uuid4().hex[:6]}"})
                for i in range(24)
            )
        )
        done.set()
        await sampler
    assert all(c.action == ChangeAction.CREATE for c in changes)
    assert peak >= 2, "plans did not run in parallel"
    assert peak <= aws_pool.concurrency
    # the same configured process serves the next lease
    async with aws_pool.client(aws_provider, config, env) as again:
        assert again.process.pid == pid


async def test_killed_process_is_replaced(
    small_pool: ProviderPool, aws_provider: InstalledProvider, moto_server: MotoServer
) -> None:
    config, env = moto_server.provider_config, moto_server.env
    async with small_pool.client(aws_provider, config, env) as client:
        first = client.process.pid
        os.kill(first, signal.SIGKILL)
        assert await _wait_gone(first)
        with pytest.raises(ProviderCrashedError):
            await client.plan("aws_s3_bucket", None, {"bucket": "after-crash"})
        assert not client.alive
    async with small_pool.client(aws_provider, config, env) as client:
        assert client.process.pid != first
        change = await client.plan("aws_s3_bucket", None, {"bucket": "after-crash"})
        assert change.action == ChangeAction.CREATE
    assert len(small_pool) == 1


async def test_idle_processes_are_reaped(
    provider_runtime_dir: Path,
    schema_cache_dir: Path,
    aws_provider: InstalledProvider,
    moto_server: MotoServer,
) -> None:
    runtime = provider_runtime_dir / "reap"
    pool = ProviderPool(
        size=2, idle_seconds=0.5, schema_cache=SchemaCache(schema_cache_dir), runtime_dir=runtime
    )
    try:
        async with pool.client(aws_provider, moto_server.provider_config, moto_server.env) as c:
            pid = c.process.pid
            await asyncio.sleep(1.0)  # leased: never reaped however long it takes
            assert len(pool) == 1 and _alive(pid)
        for _ in range(60):
            if len(pool) == 0:
                break
            await asyncio.sleep(0.1)
        assert len(pool) == 0
        assert await _wait_gone(pid)
        assert provider_pids(runtime) == []
    finally:
        await pool.aclose()


async def test_a_sessions_processes_stop_sooner(
    provider_runtime_dir: Path,
    schema_cache_dir: Path,
    aws_provider: InstalledProvider,
    moto_server: MotoServer,
) -> None:
    """The same configuration for one change's cloud session is another process; idle,
    it stops long before shared ones do (the next change gets its own)."""
    runtime = provider_runtime_dir / "sessions"
    pool = ProviderPool(
        size=3,
        idle_seconds=60,
        session_idle_seconds=0.5,
        schema_cache=SchemaCache(schema_cache_dir),
        runtime_dir=runtime,
    )
    config, env = moto_server.provider_config, moto_server.env
    try:
        async with pool.client(aws_provider, config, env) as shared:
            pid = shared.process.pid
        async with pool.client(aws_provider, config, env, identity="change-1") as session:
            session_pid = session.process.pid
            assert session_pid != pid and len(pool) == 2
            await asyncio.sleep(1.0)  # leased: never reaped however long it takes
            assert _alive(session_pid)
        assert await _wait_gone(session_pid)
        assert len(pool) == 1 and _alive(pid)
    finally:
        await pool.aclose()


async def test_bounded_size_and_aclose_stops_everything(
    small_pool: ProviderPool, aws_provider: InstalledProvider, moto_server: MotoServer
) -> None:
    config = moto_server.provider_config
    env_a = moto_server.env
    env_b = {**moto_server.env, "AWS_MAX_ATTEMPTS": "2"}  # another config hash
    async with small_pool.client(aws_provider, config, env_a) as a:
        pid_a = a.process.pid
    async with small_pool.client(aws_provider, config, env_b) as b:
        pid_b = b.process.pid
        assert pid_b != pid_a
        # size=1: the idle process for env_a made room for env_b
        assert len(small_pool) == 1
        assert await _wait_gone(pid_a)
    await small_pool.aclose()
    assert await _wait_gone(pid_b)
    with pytest.raises(RuntimeError, match="closed"):
        async with small_pool.client(aws_provider, config, env_a):
            pass


async def test_provider_environment_is_allow_listed(aws_client: ProviderClient) -> None:
    # The session's provider was started from this process, whose environment has
    # AWS_CA_BUNDLE and maybe INTENT_* settings: none of it may reach the provider.
    environ = _environ(aws_client.process.pid)
    keys = {e.split(b"=", 1)[0].decode() for e in environ if e}
    assert "AWS_CA_BUNDLE" not in keys
    assert not any(k.startswith("INTENT_") for k in keys)
    assert {"AWS_ACCESS_KEY_ID", "AWS_ENDPOINT_URL", "TF_PLUGIN_MAGIC_COOKIE", "PATH"} <= keys
    assert "PLUGIN_CLIENT_CERT" not in keys
