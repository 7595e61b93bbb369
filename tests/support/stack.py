"""The intent pieces in-process: database, worker and HTTP server on a real port.

Tests talk to it exactly as clients do (HTTP, MCP over HTTP) while the Temporal server,
the database and (later) providers are the real thing.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
import uvicorn
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from providers.models import InstalledProvider
from server import create_app
from settings import Settings
from store import identities, users
from store.db import Database
from store.secrets import SecretBox, generate_key
from tests.support.moto import MotoServer
from tests.support.postgres import PostgresServer
from worker import build_worker, worker_runtime

__all__ = [
    "IntentStack",
    "aws_overrides",
    "aws_settings",
    "aws_stack",
    "database",
    "database_url",
    "free_port",
    "make_database",
    "run_stack",
    "shared_provider_dir",
    "stack",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def make_database(
    kind: str, tmp_path: Path, postgres: Callable[[], PostgresServer] | None = None
) -> AsyncIterator[Database]:
    """A migrated, empty database of ``kind`` ("sqlite" or "postgres")."""
    if kind == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'intent.db'}"
    else:
        assert postgres is not None
        url = postgres().create_database(f"t_{uuid.uuid4().hex[:12]}")
    db = Database(url)
    # Secret columns are sealed with a throwaway key; the tests read them as a worker.
    db.use_secrets(SecretBox([generate_key()]), may_open=True)
    await db.migrate()
    try:
        yield db
    finally:
        await db.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty database, not migrated (for migration tests): each test that
    takes this runs twice, on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'intent.db'}"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.create_database(f"t_{uuid.uuid4().hex[:12]}")


@pytest_asyncio.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """Each test that takes this runs twice: on SQLite and on PostgreSQL."""

    def pg() -> PostgresServer:
        server: PostgresServer = request.getfixturevalue("postgres_server")
        return server

    async with make_database(request.param, tmp_path, pg) as db:
        yield db


# Who a test user is unless it says otherwise: someone who changes resources in root.
WRITER = ["space-writer"]


@dataclass
class IntentStack:
    settings: Settings
    db: Database
    client: Client
    base_url: str
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def mcp_url(self) -> str:
        return f"{self.base_url}/mcp"

    async def token(self, name: str, roles: list[str] | None = None) -> str:
        """A bearer token for identity ``name`` (created with ``roles`` on first use)."""
        if name not in self.tokens:
            async with self.db.transaction() as session:
                identity = await identities.ensure_identity(
                    session, name, roles=WRITER if roles is None else roles
                )
                self.tokens[name] = await identities.create_token(session, identity, "test")
        return self.tokens[name]

    async def password(self, name: str, roles: list[str] | None = None) -> str:
        """A local user ``name`` with a password (set once), for signing in by name."""
        password = f"correct horse battery {name}"
        async with self.db.transaction() as session:
            identity = await identities.ensure_identity(
                session, name, roles=WRITER if roles is None else roles
            )
            if identity.password_hash is None:
                identity.password_hash = await asyncio.to_thread(users.hash_password, password)
        return password

    async def signed_in(self, name: str, roles: list[str] | None = None) -> httpx.AsyncClient:
        """An HTTP client holding a web session of ``name`` (signed in with a password)."""
        password = await self.password(name, roles)
        http = httpx.AsyncClient(base_url=self.base_url, timeout=60)
        response = await http.post("/ui/login", data={"name": name, "password": password})
        assert response.status_code == 303, response.text
        return http

    async def http(self, name: str, roles: list[str] | None = None) -> httpx.AsyncClient:
        token = await self.token(name, roles)
        return httpx.AsyncClient(
            base_url=self.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=60
        )


@asynccontextmanager
async def run_stack(
    env: WorkflowEnvironment,
    tmp_path: Path,
    db: Database | None = None,
    *,
    worker: bool = True,
    **overrides: Any,
) -> AsyncIterator[IntentStack]:
    """Server (and, unless ``worker=False``, an in-process worker) on a real port."""
    port = free_port()
    defaults: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "host": "127.0.0.1",
        "port": port,
        "temporal_task_queue": f"test-{uuid.uuid4().hex[:10]}",
        "sandbox": False,
    }
    settings = Settings(**{**defaults, **overrides})
    owned = db is None
    if db is None:
        db = Database(settings.resolved_database_url)
        db.use_secrets(SecretBox.from_settings(settings), may_open=True)
        await db.migrate()
    app = create_app(settings, db=db, temporal=env.client, migrate=False)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    try:
        async with contextlib.AsyncExitStack() as workers:
            if worker:
                runtime = await workers.enter_async_context(
                    worker_runtime(env.client, settings, db)
                )
                await workers.enter_async_context(build_worker(env.client, settings, db, runtime))
            while not server.started:
                if serving.done():
                    serving.result()
                await asyncio.sleep(0.02)
            yield IntentStack(settings, db, env.client, f"http://127.0.0.1:{port}")
    finally:
        server.should_exit = True
        await serving
        if owned:
            await db.dispose()


@pytest_asyncio.fixture
async def stack(temporal_env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[IntentStack]:
    async with run_stack(temporal_env, tmp_path) as running:
        yield running


def aws_overrides(
    moto: MotoServer, provider_binary: Path, provider_dir: Path, runtime_dir: Path
) -> dict[str, Any]:
    """Settings that point the stack's sandbox at the test moto and the provider mirror."""
    # HOST/NAMESPACE/TYPE/VERSION/OS_ARCH/binary: the mirror root is five levels up.
    return {
        "sandbox": True,
        "sandbox_url": moto.url,
        "provider_mirrors": [provider_binary.parents[5]],
        "provider_dir": provider_dir,
        "provider_runtime_dir": runtime_dir,
        "confirmation_timeout_seconds": 120.0,
        # Tests never reach out: the registry is a closed local port (offline, like CI).
        "registry_url": f"http://127.0.0.1:{free_port()}",
    }


@pytest.fixture(scope="session")
def shared_provider_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Installed providers and their schema cache, shared by every stack in the session."""
    return tmp_path_factory.mktemp("providers")


@pytest.fixture
def aws_settings(
    moto_server: MotoServer,
    aws_provider: InstalledProvider,
    shared_provider_dir: Path,
    provider_runtime_dir: Path,
) -> dict[str, Any]:
    """Settings overrides for a stack on the session's moto and the real AWS provider."""
    return aws_overrides(moto_server, aws_provider.path, shared_provider_dir, provider_runtime_dir)


@pytest_asyncio.fixture
async def aws_stack(
    temporal_env: WorkflowEnvironment, tmp_path: Path, aws_settings: dict[str, Any]
) -> AsyncIterator[IntentStack]:
    """The stack with the sandbox cloud on the session's moto and the real AWS provider."""
    async with run_stack(temporal_env, tmp_path, **aws_settings) as running:
        yield running
