"""Who is calling: bearer credentials resolved to an ``Actor`` on every request.

Two kinds of bearer token reach the REST API and the MCP endpoint: access tokens the
authorization server issued (``intent_at_…``: short-lived, bound to the resources in
their audience, limited by their scopes) and API keys (``intent_…``: for scripts and
CI, scoped, optionally expiring). Both are looked up by hash. A request without a
usable one gets 401 with an RFC 6750/9728 challenge that names the resource metadata,
so an MCP client can discover the authorization server and sign the user in.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.types import ASGIApp, Receive, Scope, Send

from access.models import Principal, SpacePath
from access.permissions import effective_actions
from access.scopes import ALL_SCOPES, normalize_scopes
from api.urls import canonical_resource, public_base, resource_path
from settings import Settings
from store import access as access_store
from store import identities
from store import oauth as store_oauth
from store.db import Database
from store.models import Identity, Token
from store.types import utcnow
from workflows.actor import Actor, Via

__all__ = [
    "Actor",
    "AuthFailure",
    "BearerAuthMiddleware",
    "Via",
    "actor_for",
    "authenticate",
    "bearer_token",
    "challenge",
    "principal_of",
]


@dataclass
class AuthFailure(Exception):
    """Why a bearer token was refused, in RFC 6750 terms plus words for the user."""

    description: str
    error: str | None = "invalid_token"

    def __str__(self) -> str:
        return self.description


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def _quoted(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', "'")


def challenge(
    error: str | None = None, *, metadata_url: str | None = None, description: str | None = None
) -> str:
    """The ``WWW-Authenticate`` value for a 401."""
    parts = ['Bearer realm="intent"']
    if metadata_url:
        parts.append(f'resource_metadata="{metadata_url}"')
        parts.append(f'scope="{" ".join(ALL_SCOPES)}"')
    # RFC 6750 §3.1: a request that sent no credentials gets no error details.
    if error:
        parts.append(f'error="{error}"')
        if description:
            parts.append(f'error_description="{_quoted(description)}"')
    return ", ".join(parts)


async def principal_of(
    session: AsyncSession,
    identity: Identity,
    *,
    scopes: Sequence[str] = ALL_SCOPES,
    key: Token | None = None,
) -> Principal:
    """Who ``identity`` is for the permission rules: its grants (its own, its groups',
    the key's) and the limits of the credential it came with."""
    groups = tuple(identity.groups or ())
    return Principal(
        id=identity.id,
        name=identity.name,
        grants=await access_store.grants_for(
            session, identity.id, groups, key.id if key is not None else None
        ),
        scopes=tuple(normalize_scopes(scopes)),
        space_limit=key.space_id if key is not None else None,
        groups=groups,
        key_id=key.id if key is not None else None,
        key_expires_at=key.expires_at if key is not None else None,
    )


def actor_for(principal: Principal, via: Via, path: SpacePath | None = None) -> Actor:
    """The actor history and workflows see; with ``path``, resolved for that space (its
    roles there and the actions it may take, which validators check once signed)."""
    if path is None:
        roles = sorted({grant.role for grant in principal.grants})
        actions = None
    else:
        roles = principal.roles_in(path)
        actions = sorted(effective_actions(principal, path))
    return Actor(
        id=principal.id,
        name=principal.name,
        roles=roles,
        via=via,
        scopes=list(principal.scopes),
        actions=actions,
    )


_FIX = "sign in again from your client, or send an API key (`intent tokens create`)"


async def authenticate(db: Database, token: str | None, resource: str) -> Principal:
    """Who a bearer token stands for at ``resource``, or ``AuthFailure`` saying why not."""
    if not token:
        raise AuthFailure(
            "a bearer token is required: sign in through OAuth from your MCP client, or "
            "send 'Authorization: Bearer <API key>' (`intent tokens create` prints one)",
            error=None,
        )
    now = utcnow()
    async with db.transaction() as session:
        if token.startswith((store_oauth.ACCESS_PREFIX, store_oauth.REFRESH_PREFIX)):
            found = await store_oauth.find_token(session, token)
            if found is not None:
                issued, identity = found
                if issued.kind != "access":
                    raise AuthFailure(
                        "that is a refresh token: exchange it at the token endpoint for an "
                        "access token"
                    )
                if issued.revoked_at is not None:
                    raise AuthFailure(f"this access token was revoked; {_FIX}")
                if issued.expires_at <= now:
                    raise AuthFailure(f"this access token expired; {_FIX}")
                if not _audience_allows(issued.audience, resource):
                    raise AuthFailure(
                        f"this access token was issued for {', '.join(issued.audience)}, not "
                        f"for {resource}; sign in for {resource}"
                    )
                _check_enabled(identity)
                return await principal_of(session, identity, scopes=issued.scopes)
        found_key = await identities.find_key(session, token)
        if found_key is None:
            raise AuthFailure(f"this bearer token is not known here; {_FIX}")
        key, identity = found_key
        if key.revoked_at is not None:
            raise AuthFailure(f"API key {key.prefix}… was revoked; {_FIX}")
        if key.expires_at is not None and key.expires_at <= now:
            raise AuthFailure(f"API key {key.prefix}… expired; {_FIX}")
        _check_enabled(identity)
        await identities.touch_key(session, key)
        return await principal_of(session, identity, scopes=key.scopes, key=key)


def _check_enabled(identity: Identity) -> None:
    if identity.disabled_at is not None:
        raise AuthFailure(f"user {identity.name} is disabled; ask an admin to enable it")


def _audience_allows(audience: list[str], resource: str) -> bool:
    target = canonical_resource(resource)
    for entry in audience:
        allowed = canonical_resource(entry)
        if target == allowed or target.startswith(allowed + "/"):
            return True
    return False


def request_resource(settings: Settings, scope: Scope) -> tuple[str, str]:
    """(the protected resource a request addresses, its metadata URL)."""
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
    base = public_base(settings, headers, scope.get("scheme", "http"))
    path = resource_path(scope["path"]) or scope["path"]
    return f"{base}{path}", f"{base}/.well-known/oauth-protected-resource{path}"


class BearerAuthMiddleware:
    """ASGI guard for mounted apps (the MCP endpoint) that FastAPI dependencies can't reach.

    The principal lands in ``scope["state"]["principal"]``, which the MCP SDK hands to
    tools as ``request.state.principal``.
    """

    def __init__(self, app: ASGIApp, db: Database, settings: Settings) -> None:
        self.app = app
        self.db = db
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        authorization = None
        for key, value in scope["headers"]:
            if key.lower() == b"authorization":
                authorization = value.decode("latin-1")
        resource, metadata = request_resource(self.settings, scope)
        try:
            principal = await authenticate(self.db, bearer_token(authorization), resource)
        except AuthFailure as failure:
            await _unauthorized(send, failure, metadata)
            return
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)


async def _unauthorized(send: Send, failure: AuthFailure, metadata_url: str) -> None:
    body = json.dumps({"error": "unauthorized", "message": failure.description}).encode()
    header = challenge(failure.error, metadata_url=metadata_url, description=failure.description)
    await send(
        {
            "type": "http.response.start",
            "status": 401,
            "headers": [
                (b"content-type", b"application/json"),
                (b"www-authenticate", header.encode("latin-1", "replace")),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
