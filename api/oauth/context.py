"""What one authorization-server request works with, and the bridge to the database.

authlib's grants and endpoints are synchronous; the database is async. Each OAuth
request therefore runs authlib in a worker thread (``anyio.to_thread``) and every
database step it needs is sent back to the event loop with ``blocking`` — one short
transaction each, so no session crosses threads.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, ParamSpec, TypeVar

import anyio.from_thread

from api.context import AppContext
from api.urls import MCP_PATHS, RESOURCE_PATHS, canonical_resource
from store import audit
from store.db import Database

__all__ = ["OAuthContext", "SignedInUser", "blocking"]

P = ParamSpec("P")
T = TypeVar("T")


def blocking(fn: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run an async database step from authlib's worker thread and wait for it."""

    async def call() -> T:
        return await fn(*args, **kwargs)

    return anyio.from_thread.run(call)


@dataclass(frozen=True)
class SignedInUser:
    """The resource owner of an authorization: who granted it."""

    id: str
    name: str


@dataclass
class OAuthContext:
    """One request to the authorization server."""

    app: AppContext
    # The issuer as this caller reached us (RFC 8414 §2), e.g. http://127.0.0.1:8080.
    issuer: str
    ip: str | None
    # Clients found during this request (authlib asks for the same one several times).
    clients: dict[str, Any] = field(default_factory=dict)

    @property
    def db(self) -> Database:
        return self.app.db

    @property
    def access_ttl(self) -> timedelta:
        return timedelta(seconds=self.app.settings.oauth_access_token_seconds)

    @property
    def refresh_ttl(self) -> timedelta:
        return timedelta(days=self.app.settings.oauth_refresh_token_days)

    @property
    def code_ttl(self) -> timedelta:
        return timedelta(seconds=self.app.settings.oauth_code_seconds)

    def resources(self) -> list[str]:
        """Every protected resource identifier of this server (RFC 8707 targets)."""
        return [canonical_resource(self.issuer)] + [
            canonical_resource(self.issuer + path) for path in RESOURCE_PATHS
        ]

    def default_audience(self) -> list[str]:
        """For a client that names no resource: the MCP endpoints (what clients sign in to)."""
        return [canonical_resource(self.issuer + path) for path in MCP_PATHS]

    def audit(self, event: str, **fields: Any) -> None:
        """Record an auth event from authlib's thread (its own small transaction)."""

        async def write() -> None:
            async with self.db.transaction() as session:
                await audit.record(session, event, ip=self.ip, **fields)

        blocking(write)
