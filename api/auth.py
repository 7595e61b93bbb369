"""Who is calling: bearer tokens resolved to an ``Actor`` on every request.

Until OAuth lands, a token is the only way in. Both the REST API and the MCP endpoint
answer an anonymous request with 401 and a ``WWW-Authenticate`` challenge.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Receive, Scope, Send

from store import identities
from store.db import Database
from workflows.actor import Actor, Via

__all__ = [
    "Actor",
    "BearerAuthMiddleware",
    "Via",
    "authenticate",
    "bearer_token",
    "challenge",
    "refusal",
]

MISSING_TOKEN = (
    "a bearer token is required: send 'Authorization: Bearer <token>' "
    "(`intent tokens create` prints one)"
)
INVALID_TOKEN = (
    "this token is not valid (expired, revoked or unknown); use another one, or get a new "
    "one with `intent tokens create`"
)


def refusal(token: str | None) -> str:
    """Why a request without an actor was refused: no token, or one we do not accept."""
    return INVALID_TOKEN if token else MISSING_TOKEN


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def challenge(error: str | None = None) -> str:
    value = 'Bearer realm="intent"'
    if error:
        value += f', error="{error}"'
    return value


async def authenticate(db: Database, token: str | None, via: Via) -> Actor | None:
    if not token:
        return None
    async with db.transaction() as session:
        identity = await identities.resolve_token(session, token)
        if identity is None:
            return None
        return Actor(id=identity.id, name=identity.name, roles=list(identity.roles), via=via)


class BearerAuthMiddleware:
    """ASGI guard for mounted apps (the MCP endpoint) that FastAPI dependencies can't reach.

    The actor lands in ``scope["state"]["actor"]``, which the MCP SDK hands to tools as
    ``request.state.actor``.
    """

    def __init__(self, app: ASGIApp, db: Database, via: Via) -> None:
        self.app = app
        self.db = db
        self.via = via

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        token = bearer_token(headers.get("authorization"))
        actor = await authenticate(self.db, token, self.via)
        if actor is None:
            await _unauthorized(send, token)
            return
        scope.setdefault("state", {})["actor"] = actor
        await self.app(scope, receive, send)


async def _unauthorized(send: Send, token: str | None) -> None:
    error = "invalid_token" if token else None
    body = json.dumps({"error": "unauthorized", "message": refusal(token)}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 401,
            "headers": [
                (b"content-type", b"application/json"),
                (b"www-authenticate", challenge(error).encode()),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
