"""What authentication adds to an MCP call at the server.

    .venv/bin/python bench/auth.py [--calls 300]

One server, one real MCP client session per arm, the same tool call (``project-list``
on a database with a few projects, spaces and role bindings) through three doors:

- bare: the MCP endpoint with a fixed principal injected (no credential lookup),
- API key: the real guard resolving an API key and its role bindings,
- OAuth: the real guard resolving an access token (audience, expiry, scopes, bindings).

The arms are interleaved round by round so drift hits all of them alike; the client
is the same, so the differences of the medians are what the server's authentication
costs. Also times ``authenticate()`` alone. Not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import socket
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import uvicorn
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from access.models import Grant, Principal
from access.roles import BUILTIN_ROLES
from api.auth import authenticate
from server import create_app
from settings import Settings
from store import access as access_store
from store import identities
from store import oauth as store_oauth
from store.db import Database


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class FixedPrincipal:
    """The MCP endpoint without a credential lookup: the baseline arm."""

    def __init__(self, app: ASGIApp, principal: Principal) -> None:
        self.app = app
        self.principal = principal

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope.setdefault("state", {})["principal"] = self.principal
        await self.app(scope, receive, send)


async def _seed(db: Database, base: str) -> tuple[str, str]:
    """A user with a few bindings, an API key and an access token for /mcp."""
    async with db.transaction() as session:
        user = await identities.ensure_identity(session, "bench", roles=["space-writer"])
        await access_store.bind(session, role="reviewer", subject_kind="user", subject=user.id)
        key = await identities.create_token(session, user, "bench")
        issued = await store_oauth.issue_tokens(
            session,
            identity_id=user.id,
            client_id="bench-client",
            scopes=["mcp:read", "mcp:write"],
            audience=[f"{base}/mcp"],
            family_id="bench",
            access_ttl=timedelta(hours=1),
            refresh_ttl=None,
        )
    return key, issued.access_token


async def _arm(url: str, token: str | None, calls: int) -> list[float]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    timings = []
    async with (
        create_mcp_http_client(headers=headers) as http,
        Client(streamable_http_client(url, http_client=http)) as client,
    ):
        for _ in range(10):  # warm-up
            await client.call_tool("project-list", {})
        for _ in range(calls):
            started = time.perf_counter()
            result = await client.call_tool("project-list", {})
            timings.append((time.perf_counter() - started) * 1000)
            assert not result.is_error, result
    return timings


async def main(calls: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        settings = Settings(data_dir=Path(tmp), port=port, sandbox=False)
        base = f"http://127.0.0.1:{port}"
        db = Database(settings.resolved_database_url)
        await db.migrate()
        key, access = await _seed(db, base)
        app = create_app(settings, db=db, migrate=False)
        endpoint = app.state.intent_mcp
        writer = BUILTIN_ROLES["space-writer"]
        fixed = Principal(
            id="bench",
            name="bench",
            grants=(Grant(space="root", role=writer.name, actions=writer.actions),),
        )

        app.router.routes.append(Route("/bare", endpoint=FixedPrincipal(endpoint.unguarded, fixed)))
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
        serving = asyncio.create_task(server.serve())
        while not server.started:  # noqa: ASYNC110 (uvicorn offers no event)
            await asyncio.sleep(0.02)
        try:
            arms: dict[str, list[float]] = {"bare": [], "API key": [], "OAuth": []}
            for _ in range(rounds):
                arms["bare"] += await _arm(f"{base}/bare", None, calls)
                arms["API key"] += await _arm(f"{base}/mcp", key, calls)
                arms["OAuth"] += await _arm(f"{base}/mcp", access, calls)
            medians = {name: statistics.median(t) for name, t in arms.items()}
            print(f"{calls * rounds} project-list calls per arm over a real MCP session")
            for name, median in medians.items():
                extra = median - medians["bare"]
                print(
                    f"  {name:8} median {median:.3f} ms/call"
                    + (
                        f"  (+{extra:.3f} ms, ratio {median / medians['bare']:.3f})"
                        if extra
                        else ""
                    )
                )
            resolve = []
            for _ in range(500):
                started = time.perf_counter()
                await authenticate(db, access, f"{base}/mcp")
                resolve.append((time.perf_counter() - started) * 1000)
            print(
                f"  authenticate() alone (access token): median {statistics.median(resolve):.3f} ms"
            )
        finally:
            server.should_exit = True
            await serving
            await db.dispose()


if __name__ == "__main__":
    for noisy in ("httpx", "httpx2", "mcp", "uvicorn"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300, help="calls per arm per round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.calls, args.rounds))
