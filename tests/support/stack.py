"""The intent pieces in-process: database, worker and HTTP server on a real port.

Tests talk to it exactly as clients do (HTTP, MCP over HTTP) while the Temporal server,
the database and (later) providers are the real thing.
"""

from __future__ import annotations

import asyncio
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

from server import create_app
from settings import Settings
from store import identities
from store.db import Database
from tests.support.postgres import PostgresServer
from worker import build_worker

__all__ = ["IntentStack", "database", "free_port", "make_database", "run_stack", "stack"]


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
    await db.migrate()
    try:
        yield db
    finally:
        await db.dispose()


@pytest_asyncio.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """Each test that takes this runs twice: on SQLite and on PostgreSQL."""

    def pg() -> PostgresServer:
        server: PostgresServer = request.getfixturevalue("postgres_server")
        return server

    async with make_database(request.param, tmp_path, pg) as db:
        yield db


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
                identity = await identities.ensure_identity(session, name, roles=roles or [])
                self.tokens[name] = await identities.create_token(session, identity, "test")
        return self.tokens[name]

    async def http(self, name: str, roles: list[str] | None = None) -> httpx.AsyncClient:
        token = await self.token(name, roles)
        return httpx.AsyncClient(
            base_url=self.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=60
        )


@asynccontextmanager
async def run_stack(
    env: WorkflowEnvironment, tmp_path: Path, db: Database | None = None, **overrides: Any
) -> AsyncIterator[IntentStack]:
    port = free_port()
    settings = Settings(
        data_dir=tmp_path / "data",
        host="127.0.0.1",
        port=port,
        temporal_task_queue=f"test-{uuid.uuid4().hex[:10]}",
        sandbox=False,
        **overrides,
    )
    owned = db is None
    if db is None:
        db = Database(settings.resolved_database_url)
        await db.migrate()
    app = create_app(settings, db=db, temporal=env.client, migrate=False)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    worker = build_worker(env.client, settings, db)
    try:
        async with worker:
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
