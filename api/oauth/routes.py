"""HTTP endpoints of the authorization server and the resource metadata.

- ``/.well-known/oauth-protected-resource{/mcp,/intent/mcp,/api/v1}`` (RFC 9728)
- ``/.well-known/oauth-authorization-server`` (RFC 8414), ``/.well-known/openid-configuration``
- ``/oauth/authorize`` (sign-in, then a consent page), ``/oauth/token``,
  ``/oauth/register`` (RFC 7591), ``/oauth/revoke`` (RFC 7009)
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlsplit

from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc6749 import OAuth2Error
from authlib.oauth2.rfc6749.util import scope_to_list
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from access.permissions import sign_in_refusal
from access.scopes import ALL_SCOPES, READ, SCOPE_DESCRIPTIONS, normalize_scopes
from api.context import AppContext
from api.deps import AppDep
from api.oauth import sessions
from api.oauth.clients import IntentClient
from api.oauth.context import OAuthContext, SignedInUser
from api.oauth.server import (
    FormRequest,
    IntentAuthorizationServer,
    authorization_server_metadata,
    read_form_request,
    read_json_request,
    run,
)
from api.ui.templating import page
from api.urls import RESOURCE_PATHS, public_base
from store import audit

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

# Parameters of an authorization request the consent form carries back.
_AUTHORIZE_PARAMS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "state",
    "code_challenge",
    "code_challenge_method",
    "resource",
    "prompt",
)


def _issuer(request: Request, app: AppContext) -> str:
    return public_base(app.settings, request.headers, request.url.scheme)


def _server(request: Request, app: AppContext) -> IntentAuthorizationServer:
    ctx = OAuthContext(app=app, issuer=_issuer(request, app), ip=sessions.client_ip(request))
    return IntentAuthorizationServer(ctx)


# -- metadata -----------------------------------------------------------------------------


def _resource_metadata(issuer: str, path: str) -> dict[str, Any]:
    return {
        "resource": issuer + path,
        "authorization_servers": [issuer],
        "scopes_supported": list(ALL_SCOPES),
        "bearer_methods_supported": ["header"],
        "resource_name": "intent" + (" MCP" if "mcp" in path else " REST API" if path else ""),
        "resource_documentation": issuer + "/docs",
    }


@router.get("/.well-known/oauth-protected-resource")
async def protected_resource_root(request: Request, app: AppDep) -> JSONResponse:
    return JSONResponse(_resource_metadata(_issuer(request, app), ""))


for _path in RESOURCE_PATHS:

    def _serve(path: str = _path) -> Any:
        async def protected_resource(request: Request, app: AppDep) -> JSONResponse:
            return JSONResponse(_resource_metadata(_issuer(request, app), path))

        return protected_resource

    router.add_api_route(f"/.well-known/oauth-protected-resource{_path}", _serve(), methods=["GET"])


@router.get("/.well-known/oauth-authorization-server")
@router.get("/.well-known/openid-configuration")
async def authorization_server(request: Request, app: AppDep) -> JSONResponse:
    return JSONResponse(authorization_server_metadata(_issuer(request, app), app.settings))


# -- authorization ------------------------------------------------------------------------


def _with_issuer(response: Response, issuer: str) -> Response:
    """RFC 9207: every authorization response names its issuer."""
    location = response.headers.get("location")
    if location and response.status_code in (302, 303):
        response.headers["location"] = add_params_to_uri(location, [("iss", issuer)])
    return response


def _problem(request: Request, error: OAuth2Error) -> Response:
    """An error that cannot go back to the client (unknown client or redirect): say it here."""
    text = error.description or error.error or "invalid request"
    return page(request, "oauth_error.html", problem=text, status_code=400)


async def _validated(
    server: IntentAuthorizationServer, request: Request, oauth_request: FormRequest
) -> Any | Response:
    """The grant of a valid authorization request, or the response that refuses it."""
    try:
        return await run(lambda: server.get_consent_grant(oauth_request, end_user=None))
    except OAuth2Error as error:
        if error.redirect_uri:
            response = server.handle_error_response(oauth_request, error)
            return _with_issuer(response, server.ctx.issuer)
        return _problem(request, error)


def _consent_refused(request: Request, signed_in: sessions.SignedIn) -> Response | None:
    """Only a full sign-in authorizes an app (a session opened with an API key would
    hand the app tokens without the key's limits, outliving it)."""
    reason = sign_in_refusal(signed_in.principal, "authorize apps")
    if reason is None:
        return None
    return page(request, "oauth_error.html", problem=reason, status_code=403)


@router.get("/oauth/authorize")
async def authorize(request: Request, app: AppDep) -> Response:
    server = _server(request, app)
    oauth_request = await read_form_request(request, server.ctx.issuer)
    grant = await _validated(server, request, oauth_request)
    if isinstance(grant, Response):
        return grant
    signed_in = await sessions.current(request, app)
    if signed_in is None:
        target = request.url.path + "?" + request.url.query
        return RedirectResponse(f"/ui/login?next={quote(target, safe='')}", status_code=303)
    refused = _consent_refused(request, signed_in)
    if refused is not None:
        return refused
    client: IntentClient = grant.client
    requested = scope_to_list(oauth_request.scope) or list(ALL_SCOPES)
    redirect = grant.redirect_uri
    return page(
        request,
        "consent.html",
        signed_in.actor(),
        client_name=client.name,
        client_id=client.get_client_id(),
        registered=client.row.kind == "registered",
        user_name=signed_in.identity.name,
        redirect_host=urlsplit(redirect).netloc or redirect,
        resources=oauth_request.audience,
        scopes=[(s, SCOPE_DESCRIPTIONS[s], s in requested) for s in ALL_SCOPES],
        params=[
            (key, value)
            for key in _AUTHORIZE_PARAMS
            for value in oauth_request.payload.datalist.get(key, [])
        ],
    )


@router.post("/oauth/authorize")
async def decide(request: Request, app: AppDep) -> Response:
    if not sessions.same_origin(request):
        raise HTTPException(403, "cross-site form post refused")
    signed_in = await sessions.current(request, app)
    form = await request.form()
    if signed_in is None or not sessions.valid_csrf(
        app.settings, signed_in, str(form.get("csrf") or "")
    ):
        raise HTTPException(
            403, "your sign-in expired or the form is stale; start again from your app"
        )
    refused = _consent_refused(request, signed_in)
    if refused is not None:
        return refused
    server = _server(request, app)
    oauth_request = await read_form_request(request, server.ctx.issuer)
    granted = normalize_scopes([READ, *[str(v) for v in form.getlist("grant")]])
    # What the user ticked is what the code carries (a subset of what may be granted).
    oauth_request.payload.data["scope"] = " ".join(granted)
    oauth_request.payload.datalist["scope"] = [" ".join(granted)]
    grant = await _validated(server, request, oauth_request)
    if isinstance(grant, Response):
        return grant
    allow = form.get("decision") == "allow"
    user = SignedInUser(signed_in.identity.id, signed_in.identity.name) if allow else None
    response = await run(
        lambda: server.create_authorization_response(oauth_request, grant_user=user, grant=grant)
    )
    async with app.db.transaction() as session:
        await audit.record(
            session,
            "consent",
            outcome="succeeded" if allow else "refused",
            subject_id=signed_in.identity.id,
            subject_name=signed_in.identity.name,
            client_id=grant.client.get_client_id(),
            ip=server.ctx.ip,
            details={"scopes": granted if allow else [], "resources": oauth_request.audience},
        )
    return _with_issuer(response, server.ctx.issuer)


# -- token, registration, revocation ------------------------------------------------------


@router.post("/oauth/token")
async def token(request: Request, app: AppDep) -> Response:
    server = _server(request, app)
    oauth_request = await read_form_request(request, server.ctx.issuer)
    return await run(lambda: server.create_token_response(oauth_request))


@router.post("/oauth/register")
async def register(request: Request, app: AppDep) -> Response:
    server = _server(request, app)
    json_request = await read_json_request(request, server.ctx.issuer)
    return await run(lambda: server.create_endpoint_response("client_registration", json_request))


@router.post("/oauth/revoke")
async def revoke(request: Request, app: AppDep) -> Response:
    server = _server(request, app)
    oauth_request = await read_form_request(request, server.ctx.issuer)
    return await run(lambda: server.create_endpoint_response("revocation", oauth_request))
