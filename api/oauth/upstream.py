"""Sign-in through an upstream OpenID Connect provider (optional).

With ``INTENT_OIDC_ISSUER``, ``INTENT_OIDC_CLIENT_ID`` and ``INTENT_OIDC_CLIENT_SECRET``
set, the sign-in page offers "Sign in with …": an authorization code flow with PKCE and
a nonce (authlib's client), the ID token verified against the provider's published keys
(issuer, audience, expiry, nonce), and the user created or refreshed from its claims.
The groups claim (``INTENT_OIDC_GROUPS_CLAIM``) is kept on the user: role bindings to a
group apply to whoever the provider says is in it.

The flow's state rides a short-lived cookie signed with a server key, so any server
process can finish a sign-in another one started.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from typing import Any

import httpx
from authlib.integrations.httpx_client import AsyncOAuth2Client
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from api.context import AppContext
from api.deps import AppDep
from api.oauth import sessions
from api.ui.templating import page
from api.urls import public_base
from settings import Settings
from store import audit
from store import users as store_users
from store.secrets import SecretBox

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

COOKIE = "intent_upstream"
_PURPOSE = "upstream-sign-in"
FLOW_SECONDS = 600
_discovered: dict[str, tuple[float, dict[str, Any]]] = {}


class UpstreamError(Exception):
    """The upstream sign-in failed; the message says why, in the user's terms."""


def _configured(settings: Settings) -> tuple[str, str, str]:
    secret = settings.oidc_client_secret.get_secret_value() if settings.oidc_client_secret else ""
    if not (settings.oidc_issuer and settings.oidc_client_id and secret):
        raise HTTPException(404, "single sign-on is not configured on this server")
    return settings.oidc_issuer.rstrip("/"), settings.oidc_client_id, secret


async def _metadata(issuer: str) -> dict[str, Any]:
    """The provider's discovery document (cached for an hour per process)."""
    cached = _discovered.get(issuer)
    if cached and cached[0] > time.monotonic():
        return cached[1]
    async with httpx.AsyncClient(timeout=10) as http:
        try:
            response = await http.get(f"{issuer}/.well-known/openid-configuration")
            response.raise_for_status()
            document: dict[str, Any] = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise UpstreamError(f"the identity provider {issuer} cannot be reached: {exc}") from exc
    if document.get("issuer", "").rstrip("/") != issuer:
        raise UpstreamError(f"the identity provider's metadata names another issuer than {issuer}")
    _discovered[issuer] = (time.monotonic() + 3600, document)
    return document


def _sign(settings: Settings, data: dict[str, Any]) -> str:
    body = base64.urlsafe_b64encode(json.dumps(data).encode()).decode()
    mac = hmac.new(_key(settings), body.encode(), hashlib.sha256).hexdigest()
    return f"{body}.{mac}"


def _unsign(settings: Settings, value: str) -> dict[str, Any] | None:
    body, _, mac = value.partition(".")
    keys = SecretBox.from_settings(settings).derived_keys(_PURPOSE)
    macs = [hmac.new(key, body.encode(), hashlib.sha256).hexdigest() for key in keys]
    if not mac or not any(hmac.compare_digest(mac, expected) for expected in macs):
        return None
    try:
        data: dict[str, Any] = json.loads(base64.urlsafe_b64decode(body))
    except ValueError:
        return None
    return data if data.get("exp", 0) > time.time() else None


def _key(settings: Settings) -> bytes:
    return SecretBox.from_settings(settings).derived_key(_PURPOSE)


def _client(request: Request, app: AppContext, client_id: str, secret: str) -> AsyncOAuth2Client:
    base = public_base(app.settings, request.headers, request.url.scheme)
    return AsyncOAuth2Client(
        client_id=client_id,
        client_secret=secret,
        scope=app.settings.oidc_scopes,
        redirect_uri=f"{base}/oauth/upstream/callback",
        code_challenge_method="S256",
        timeout=10,
    )


@router.get("/oauth/upstream/login")
async def upstream_login(request: Request, app: AppDep, next: str = "") -> Response:
    issuer, client_id, secret = _configured(app.settings)
    try:
        metadata = await _metadata(issuer)
    except UpstreamError as exc:
        return page(request, "login.html", error=str(exc), next=next, status_code=502)
    nonce, verifier = secrets.token_urlsafe(24), secrets.token_urlsafe(48)
    async with _client(request, app, client_id, secret) as client:
        url, state = client.create_authorization_url(
            metadata["authorization_endpoint"], nonce=nonce, code_verifier=verifier
        )
    flow = {
        "state": state,
        "nonce": nonce,
        "verifier": verifier,
        "next": sessions.safe_next(next),
        "exp": time.time() + FLOW_SECONDS,
    }
    response = RedirectResponse(url, status_code=303)
    # Lax: the provider sends the browser back to us with a top-level GET.
    response.set_cookie(
        COOKIE,
        _sign(app.settings, flow),
        max_age=FLOW_SECONDS,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https" or (app.settings.public_url or "").startswith("https"),
        path="/oauth/upstream",
    )
    return response


@router.get("/oauth/upstream/callback")
async def upstream_callback(request: Request, app: AppDep) -> Response:
    issuer, client_id, secret = _configured(app.settings)
    ip = sessions.client_ip(request)
    flow = _unsign(app.settings, request.cookies.get(COOKIE, ""))
    try:
        if flow is None or request.query_params.get("state") != flow["state"]:
            raise UpstreamError("this sign-in expired or did not start here; start it again")
        if "error" in request.query_params:
            raise UpstreamError(
                f"the identity provider refused: {request.query_params.get('error')} "
                f"{request.query_params.get('error_description', '')}".strip()
            )
        claims = await _verified_claims(request, app, issuer, client_id, secret, flow)
    except UpstreamError as exc:
        async with app.db.transaction() as session:
            await audit.record(
                session,
                "login",
                outcome="failed",
                ip=ip,
                details={"method": "oidc", "why": str(exc)},
            )
        return page(request, "login.html", error=str(exc), next="/ui/projects", status_code=401)
    groups = claims.get(app.settings.oidc_groups_claim) or []
    name = str(claims.get("preferred_username") or claims.get("email") or claims["sub"])
    async with app.db.transaction() as session:
        user = await store_users.upstream_user(
            session,
            subject=f"{issuer}|{claims['sub']}",
            name=name[:200],
            email=claims.get("email"),
            groups=[str(g) for g in groups] if isinstance(groups, list) else [],
        )
    if user.disabled_at is not None:
        return page(
            request, "login.html", error=f"user {name} is disabled here", next="", status_code=403
        )
    response = RedirectResponse(flow["next"], status_code=303)
    response.delete_cookie(COOKIE, path="/oauth/upstream")
    await sessions.start_session(response, app, user, method="oidc", ip=ip)
    return response


async def _verified_claims(
    request: Request,
    app: AppContext,
    issuer: str,
    client_id: str,
    secret: str,
    flow: dict[str, Any],
) -> dict[str, Any]:
    metadata = await _metadata(issuer)
    async with _client(request, app, client_id, secret) as client:
        try:
            token = await client.fetch_token(
                metadata["token_endpoint"],
                code=request.query_params.get("code", ""),
                code_verifier=flow["verifier"],
            )
            keys = (await client.get(metadata["jwks_uri"])).json()
        except Exception as exc:  # authlib raises OAuthError, httpx its own
            raise UpstreamError(f"the identity provider did not issue tokens: {exc}") from exc
    id_token = token.get("id_token")
    if not id_token:
        raise UpstreamError("the identity provider sent no ID token (is 'openid' in the scopes?)")
    try:
        decoded = jwt.decode(id_token, KeySet.import_key_set(keys))
        jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": client_id},
            sub={"essential": True},
            exp={"essential": True},
            nonce={"essential": True, "value": flow["nonce"]},
        ).validate(decoded.claims)
    except (JoseError, ValueError) as exc:
        raise UpstreamError(f"the identity provider's ID token is not valid: {exc}") from exc
    return dict(decoded.claims)
