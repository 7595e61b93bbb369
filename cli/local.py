"""Commands that work on this host's intent directly: its settings and its database.

Admin chores (users, API keys) run here without a server, like any database tool on
the machine that holds the data directory.
"""

from __future__ import annotations

import asyncio
import getpass
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from settings import Settings

if TYPE_CHECKING:
    from api.context import Caller
    from store.db import Database

T = TypeVar("T")

__all__ = ["DataOpt", "local_caller", "local_db", "local_settings", "run_local"]

DataOpt = Annotated[Path | None, typer.Option(help="Data directory (default ./.intent).")]


def local_settings(
    host: str | None = None,
    port: int | None = None,
    temporal_port: int | None = None,
    temporal_ui_port: int | None = None,
    data_dir: Path | None = None,
    sandbox_port: int | None = None,
    metrics_port: int | None = None,
) -> Settings:
    overrides = {
        "metrics_port": metrics_port,
        "host": host,
        "port": port,
        "temporal_port": temporal_port,
        "temporal_ui_port": temporal_ui_port,
        "data_dir": data_dir,
        "sandbox_port": sandbox_port,
    }
    # Flags beat environment variables, which beat defaults.
    return Settings().model_copy(update={k: v for k, v in overrides.items() if v is not None})


@asynccontextmanager
async def local_db(settings: Settings) -> AsyncIterator[Database]:
    """The migrated database of this host's intent."""
    from store.db import Database

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.resolved_database_url)
    try:
        await db.migrate()
        yield db
    finally:
        await db.dispose()


def local_caller(settings: Settings, db: Database) -> Caller:
    """Whoever runs the CLI on this host: they hold the data directory, so they act as
    a space admin of the root, and history and the audit trail say it was done locally."""
    from access.models import ROOT, Grant, Principal
    from access.roles import BUILTIN_ROLES
    from api.context import AppContext, Caller, TemporalConnector

    who = f"{getpass.getuser()}@{socket.gethostname()}"
    admin = BUILTIN_ROLES["space-admin"]
    principal = Principal(
        id=f"local:{who}",
        name=f"{who} (local)",
        grants=(Grant(space=ROOT, role=admin.name, actions=admin.actions, via="local"),),
    )
    return Caller(AppContext(settings, db, TemporalConnector(settings)), principal, "cli")


def run_local(settings: Settings, fn: Callable[[Caller], Awaitable[T]]) -> T:
    """Run a service call as the local admin; user errors end the command with exit 1."""
    from api.errors import IntentError

    async def go() -> T:
        async with local_db(settings) as db:
            return await fn(local_caller(settings, db))

    try:
        return asyncio.run(go())
    except IntentError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from exc
