"""The real hashicorp/aws provider for tests: find the binary, describe it, pool it."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from providers import InstalledProvider, ProviderAddress, ProviderClient, ProviderPool, SchemaCache
from providers._hashcache import cached_sha256
from tests.support.moto import MotoServer
from tests.support.requirements import require

__all__ = [
    "AWS_VERSION",
    "aws_client",
    "aws_pool",
    "aws_provider",
    "find_aws_provider",
    "installed_aws",
    "provider_pids",
    "provider_runtime_dir",
    "schema_cache_dir",
]

AWS_VERSION = "5.100.0"
_FIND_MIRRORS = Path(__file__).resolve().parents[2] / "deploy" / "find-provider-mirrors.sh"


@functools.lru_cache(maxsize=1)
def mirror_roots() -> tuple[Path, ...]:
    """Mirror roots as the project finds them: $INTENT_PROVIDER_MIRRORS (``make`` sets it)
    or the same search ``make`` runs."""
    configured = os.environ.get("INTENT_PROVIDER_MIRRORS")
    if configured is None:
        found = subprocess.run([str(_FIND_MIRRORS)], capture_output=True, text=True, check=False)
        configured = found.stdout.strip()
    return tuple(Path(p) for p in configured.split(":") if p)


def find_aws_provider(version: str = AWS_VERSION) -> Path | None:
    """The hashicorp/aws binary from a filesystem mirror (or $INTENT_TEST_AWS_PROVIDER)."""
    explicit = os.environ.get("INTENT_TEST_AWS_PROVIDER")
    if explicit:
        return Path(explicit) if Path(explicit).is_file() else None
    for root in mirror_roots():
        for host in ("registry.terraform.io", "registry.opentofu.org"):
            base = root / host / "hashicorp" / "aws" / version / "linux_amd64"
            if base.is_dir():
                for candidate in sorted(base.glob("terraform-provider-aws*")):
                    if candidate.is_file() and os.access(candidate, os.X_OK):
                        return candidate
    return None


def installed_aws(path: Path) -> InstalledProvider:
    """An ``InstalledProvider`` for a binary on disk (the installer's job in production)."""
    cache = Path(tempfile.gettempdir()) / "intent-test-sha256"
    return InstalledProvider(
        address=ProviderAddress.parse("hashicorp/aws"),
        version=AWS_VERSION,
        path=path,
        sha256=cached_sha256(cache, path),
        protocol_versions=(5,),
    )


def provider_pids(runtime_dir: Path) -> list[int]:
    """PIDs of live provider processes started with ``runtime_dir`` as socket home.

    Found by scanning /proc for the socket directory our launcher puts in the child's
    environment, so it also finds processes nobody holds a handle to any more.
    """
    marker = f"PLUGIN_UNIX_SOCKET_DIR={runtime_dir}".encode()
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if marker in environ and ") Z " not in stat:  # zombies are already dead
            found.append(int(entry.name))
    return found


@pytest.fixture(scope="session")
def provider_runtime_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Socket home for every provider the tests start; at the end of the session no
    process started under it may still be running."""
    # Not under pytest's private (0700) temp root: when the tests run as root, providers
    # run as INTENT_PROVIDER_USER and must reach their socket directories.
    path = Path(tempfile.mkdtemp(prefix="intent-rt-", dir="/tmp"))
    path.chmod(0o711)
    yield path
    survivors = provider_pids(path)
    shutil.rmtree(path, ignore_errors=True)
    assert not survivors, f"provider processes outlived the test session: {survivors}"


@pytest.fixture(scope="session")
def schema_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("provider-schemas")


@pytest.fixture(scope="session")
def aws_provider() -> InstalledProvider:
    path = find_aws_provider()
    require(path, f"the hashicorp/aws {AWS_VERSION} provider binary in a filesystem mirror")
    assert path is not None
    return installed_aws(path)


@pytest_asyncio.fixture(scope="session")
async def aws_pool(
    provider_runtime_dir: Path, schema_cache_dir: Path
) -> AsyncIterator[ProviderPool]:
    """One session-wide pool: tests share its warm processes."""
    pool = ProviderPool(
        size=3,
        idle_seconds=600,
        concurrency=8,
        schema_cache=SchemaCache(schema_cache_dir),
        runtime_dir=provider_runtime_dir,
    )
    try:
        yield pool
    finally:
        await pool.aclose()


@pytest_asyncio.fixture(scope="session")
async def aws_client(
    aws_pool: ProviderPool, aws_provider: InstalledProvider, moto_server: MotoServer
) -> AsyncIterator[ProviderClient]:
    """A configured hashicorp/aws client against the session's moto server."""
    async with aws_pool.client(
        aws_provider, moto_server.provider_config, moto_server.env
    ) as client:
        yield client
