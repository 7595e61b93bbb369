"""Browser sign-in: the session cookie shared by the web UI and the OAuth pages.

The cookie holds a random secret (only its hash is stored), is HttpOnly, SameSite=Lax
(so the browser still carries it when a client or an upstream identity provider sends
it back to us) and Secure behind https. Every form post carries a CSRF token derived
from the session secret with a server key, and is checked against the Origin header.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

from access.models import Principal
from access.scopes import ALL_SCOPES
from api.auth import actor_for, principal_of
from api.context import AppContext
from settings import Settings
from store import audit
from store import sessions as store_sessions
from store.models import Identity
from store.secrets import SecretBox
from workflows.actor import Actor

__all__ = [
    "COOKIE",
    "SignedIn",
    "client_ip",
    "csrf_token",
    "current",
    "end_session",
    "safe_next",
    "same_origin",
    "start_session",
    "valid_csrf",
]

COOKIE = "intent_session"
_CSRF = "ui-csrf"


@dataclass(frozen=True)
class SignedIn:
    identity: Identity
    # A session opened with an API key acts within that key's limits.
    principal: Principal
    cookie: str

    def actor(self) -> Actor:
        return actor_for(self.principal, "ui")


async def current(request: Request, app: AppContext) -> SignedIn | None:
    cookie = request.cookies.get(COOKIE)
    if not cookie:
        return None
    async with app.db.session() as session:
        found = await store_sessions.find_session(session, cookie)
        if found is None:
            return None
        key = found.key
        principal = await principal_of(
            session,
            found.identity,
            scopes=key.scopes if key is not None else ALL_SCOPES,
            key=key,
        )
    return SignedIn(found.identity, principal, cookie)


def _secure(settings: Settings) -> bool:
    return (settings.public_url or "").startswith("https://")


async def start_session(
    response: Response,
    app: AppContext,
    identity: Identity,
    *,
    method: str,
    ip: str | None,
    key_id: str | None = None,
) -> None:
    """Open a session, set its cookie on ``response`` and record the sign-in."""
    ttl = timedelta(hours=app.settings.session_hours)
    async with app.db.transaction() as session:
        cookie = await store_sessions.open_session(
            session, identity, method=method, ttl=ttl, key_id=key_id
        )
        await audit.record(
            session,
            "login",
            subject_id=identity.id,
            subject_name=identity.name,
            ip=ip,
            details={"method": method},
        )
    response.set_cookie(
        COOKIE,
        cookie,
        httponly=True,
        samesite="lax",
        secure=_secure(app.settings),
        max_age=int(ttl.total_seconds()),
        path="/",
    )


async def end_session(
    response: Response, app: AppContext, signed_in: SignedIn | None, ip: str | None
) -> None:
    if signed_in is not None:
        async with app.db.transaction() as session:
            await store_sessions.close_session(session, signed_in.cookie)
            await audit.record(
                session,
                "logout",
                subject_id=signed_in.identity.id,
                subject_name=signed_in.identity.name,
                ip=ip,
            )
    response.delete_cookie(COOKIE, path="/")


def csrf_token(settings: Settings, cookie: str) -> str:
    key = SecretBox.from_settings(settings).derived_key(_CSRF)
    return hmac.new(key, cookie.encode(), "sha256").hexdigest()


def valid_csrf(settings: Settings, signed_in: SignedIn, given: str | None) -> bool:
    """Whether ``given`` is this session's token under any active key (rotation)."""
    if not given:
        return False
    return any(
        hmac.compare_digest(hmac.new(key, signed_in.cookie.encode(), "sha256").hexdigest(), given)
        for key in SecretBox.from_settings(settings).derived_keys(_CSRF)
    )


def same_origin(request: Request) -> bool:
    """A browser names where a form post comes from; it must be this site."""
    origin = request.headers.get("origin") or request.headers.get("referer")
    if not origin or origin == "null":
        return origin is None  # non-browser clients send neither
    return urlsplit(origin).netloc == request.headers.get("host", "")


def safe_next(value: str | None, default: str = "/ui/projects") -> str:
    """Only a path on this site: never another host (an open redirect)."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return default
    return value


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None
