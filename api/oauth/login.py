"""Signing in: the pages the web UI and the OAuth authorization flow share.

A local user signs in with name and password (argon2, rate-limited, every attempt
recorded); users of the upstream OpenID Connect provider follow its button; scripts
and automation may still open a session with an API key. A one-time link sets a
password (the first admin's comes from ``intent up``).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.auth import AuthFailure, authenticate
from api.deps import AppDep
from api.oauth import sessions
from api.ui.templating import page
from store import audit, identities
from store import users as store_users
from store.types import utcnow

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


def _login_page(request: Request, *, error: str = "", status_code: int = 200) -> HTMLResponse:
    settings = request.app.state.intent.settings
    return page(
        request,
        "login.html",
        next=sessions.safe_next(request.query_params.get("next")),
        error=error or request.query_params.get("error", ""),
        oidc_name=settings.oidc_name if settings.oidc_issuer else None,
        status_code=status_code,
    )


@router.get("/ui/login", response_class=HTMLResponse)
async def login_page(request: Request) -> HTMLResponse:
    return _login_page(request)


def _refuse_cross_site(request: Request) -> None:
    if not sessions.same_origin(request):
        raise HTTPException(403, "cross-site form post refused")


async def _too_many_failures(app: AppDep, name: str, ip: str | None) -> str | None:
    settings = app.settings
    window = timedelta(seconds=settings.login_failure_window_seconds)
    async with app.db.session() as session:
        by_name, by_ip = await audit.count_failures(
            session, name=name, ip=ip, since=utcnow() - window
        )
    if by_name >= settings.login_max_failures or by_ip >= 4 * settings.login_max_failures:
        minutes = max(1, round(window.total_seconds() / 60))
        return (
            f"too many failed sign-ins for {name}; wait {minutes} minutes, or ask an admin "
            "to set a new password (`intent users passwd`)"
        )
    return None


@router.post("/ui/login")
async def login(
    request: Request,
    app: AppDep,
    name: Annotated[str, Form()],
    password: Annotated[str, Form()],
    next: Annotated[str, Form()] = "",
) -> Response:
    _refuse_cross_site(request)
    name = name.strip()
    ip = sessions.client_ip(request)
    limited = await _too_many_failures(app, name, ip)
    if limited:
        async with app.db.transaction() as session:
            await audit.record(session, "login", outcome="refused", subject_name=name, ip=ip)
        return _login_page(request, error=limited, status_code=429)
    async with app.db.transaction() as session:
        user = await identities.find_identity(session, name)
        # Off the event loop: argon2 is deliberately slow.
        ok = await asyncio.to_thread(store_users.verify_password, user, password)
        if user is not None and ok and user.disabled_at is None:
            user.last_login_at = utcnow()
        else:
            await audit.record(
                session,
                "login",
                outcome="failed",
                subject_id=user.id if user else None,
                subject_name=name,
                ip=ip,
                details={"method": "password"},
            )
            user = None
    if user is None:
        return _login_page(request, error="wrong user name or password", status_code=401)
    response = RedirectResponse(sessions.safe_next(next), status_code=303)
    await sessions.start_session(response, app, user, method="password", ip=ip)
    return response


@router.post("/ui/login/key")
async def login_with_key(
    request: Request, app: AppDep, token: Annotated[str, Form()], next: Annotated[str, Form()] = ""
) -> Response:
    """Automation signs in with an API key; the session acts within the key's limits."""
    _refuse_cross_site(request)
    ip = sessions.client_ip(request)
    clear = token.strip()
    try:
        # Keys carry no audience; any resource name works for the check.
        await authenticate(app.db, clear, app.settings.base_url)
    except AuthFailure:
        async with app.db.transaction() as session:
            await audit.record(session, "login", outcome="failed", ip=ip, details={"method": "key"})
        return _login_page(request, error="that API key is not valid (expired or revoked?)")
    async with app.db.session() as session:
        found = await identities.find_key(session, clear)
    if found is None:  # revoked between the two looks
        return _login_page(request, error="that API key is not valid (expired or revoked?)")
    key, identity = found
    response = RedirectResponse(sessions.safe_next(next), status_code=303)
    await sessions.start_session(response, app, identity, method="key", ip=ip, key_id=key.id)
    return response


@router.post("/ui/logout")
async def logout(request: Request, app: AppDep) -> Response:
    _refuse_cross_site(request)
    signed_in = await sessions.current(request, app)
    response = RedirectResponse("/ui/login", status_code=303)
    await sessions.end_session(response, app, signed_in, sessions.client_ip(request))
    return response


# -- setting a password through a one-time link -------------------------------------------


@router.get("/ui/setup", response_class=HTMLResponse)
async def setup_page(request: Request, app: AppDep, token: str = "") -> HTMLResponse:
    async with app.db.session() as session:
        user = await store_users.open_password_link(session, token) if token else None
    if user is None:
        return page(
            request,
            "setup.html",
            user=None,
            token="",
            error="this link was used already or expired; ask an admin for a new one "
            "(`intent users passwd NAME --link`)",
            status_code=410,
        )
    return page(request, "setup.html", user=user, token=token)


@router.post("/ui/setup")
async def setup(
    request: Request,
    app: AppDep,
    token: Annotated[str, Form()],
    password: Annotated[str, Form()],
    confirm: Annotated[str, Form()],
) -> Response:
    _refuse_cross_site(request)
    problem = password_problem(password, confirm)
    if problem:
        return RedirectResponse(
            f"/ui/setup?token={quote(token)}&error={quote(problem)}", status_code=303
        )
    hashed = await asyncio.to_thread(store_users.hash_password, password)
    ip = sessions.client_ip(request)
    async with app.db.transaction() as session:
        used = await store_users.use_password_link(session, token, hashed)
        if used is not None:
            user, signed_out = used
            await audit.record(
                session,
                "password_set",
                subject_id=user.id,
                subject_name=user.name,
                ip=ip,
                details={"method": "link", **signed_out.details()},
            )
    if used is None:
        return RedirectResponse("/ui/setup?token=", status_code=303)
    response = RedirectResponse("/ui/projects", status_code=303)
    await sessions.start_session(response, app, user, method="password", ip=ip)
    return response


def password_problem(password: str, confirm: str | None = None) -> str | None:
    """What is wrong with a new password, or None (one rule for the UI and the CLI)."""
    if confirm is not None and password != confirm:
        return "the two passwords differ"
    if len(password) < store_users.MIN_PASSWORD_LENGTH:
        return f"use at least {store_users.MIN_PASSWORD_LENGTH} characters"
    return None
