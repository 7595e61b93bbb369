"""The database handle: one async engine per process, migrations applied at start."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from store.secrets import SecretBox
from store.types import BoundSecrets, bind_secrets

__all__ = ["Database"]

log = logging.getLogger(__name__)

_MIGRATIONS = Path(__file__).parent / "migrations"
# Set while this task holds the SQLite writer's turn (see ``Database.transaction``).
_writing: ContextVar[bool] = ContextVar("intent_db_writing", default=False)
# Any constant works; it only has to be the same in every process migrating one database.
_MIGRATION_LOCK_KEY = 7_466_927_001


def _alembic_config(connection: Connection) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


class Database:
    """Owns the engine and hands out sessions.

    SQLite is the laptop default; PostgreSQL is the same code with another URL.
    """

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        # hide_parameters: SQL logging (echo, or DEBUG logs) must never print the values
        # of configs and states, which hold secrets.
        # A SQLite file connection never goes stale: pinging it before every checkout
        # only costs a round trip (a fifth of an authenticated request's overhead).
        kwargs: dict[str, Any] = {
            "echo": echo,
            "pool_pre_ping": not url.startswith("sqlite"),
            "hide_parameters": True,
        }
        if url.startswith("sqlite"):
            self._prepare_sqlite_dir(url)
            # aiosqlite logs every statement with its parameters at DEBUG: configs and
            # states (secrets) must not reach the logs even when debugging.
            logging.getLogger("aiosqlite").setLevel(
                max(logging.INFO, logging.getLogger("aiosqlite").level)
            )
            # The server, the worker and the CLI share one file: wait on locks, don't fail.
            kwargs["connect_args"] = {"timeout": 30}
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        # SQLite has one writer at a time and its busy handler sleeps in steps of up
        # to 100 ms: writers of this process take turns here instead.
        self._writer = asyncio.Lock() if self.is_sqlite else None

    def use_secrets(self, box: SecretBox, *, may_open: bool) -> None:
        """Bind the keyring that seals secret columns on write; ``may_open`` lets this
        process read them in the clear (the worker does; the server does not need to)."""
        current = getattr(self.engine.sync_engine.dialect, "intent_secrets", None)
        if current is not None and current.may_open and not may_open:
            return  # one engine shared by server and worker (tests): keep the wider one
        bind_secrets(self.engine.sync_engine.dialect, BoundSecrets(box, may_open))

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @staticmethod
    def _prepare_sqlite_dir(url: str) -> None:
        path = url.split(":///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session:
            yield session

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction: committed on success, rolled back on error."""
        if self._writer is None or _writing.get():
            # PostgreSQL; or a transaction opened inside another (it must not wait for
            # the turn its own caller holds).
            async with self.sessions() as session, session.begin():
                yield session
            return
        async with self._writer:
            token = _writing.set(True)
            try:
                async with self.sessions() as session, session.begin():
                    yield session
            finally:
                _writing.reset(token)

    async def migrate(self) -> None:
        """Bring the schema to head. Safe to call from many processes at once."""
        async with self.engine.begin() as conn:
            if self.engine.dialect.name == "postgresql":
                # Two workers starting together must not both run the same DDL.
                await conn.execute(text(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK_KEY})"))
            await conn.run_sync(lambda sync: command.upgrade(_alembic_config(sync), "head"))

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the UI read while the worker writes; foreign keys are off by default.
    cursor.execute("PRAGMA journal_mode=WAL")
    # In WAL mode, NORMAL syncs at checkpoints, not at every commit: no corruption and
    # nothing lost when a process dies (a killed worker's journal entries survive);
    # a power cut may lose the last commits. PostgreSQL is the choice where that matters.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
