"""The Jinja environment every server-rendered page shares (UI, sign-in, consent)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from starlette.requests import Request

from api.oauth.sessions import COOKIE, csrf_token
from workflows.actor import Actor

__all__ = ["page", "templates"]

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
templates.env.filters["pretty"] = lambda value: json.dumps(
    value, indent=2, sort_keys=True, default=str
)


def page(
    request: Request,
    name: str,
    actor: Actor | None = None,
    *,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    cookie = request.cookies.get(COOKIE)
    settings = request.app.state.intent.settings
    response = templates.TemplateResponse(
        request,
        name,
        {
            "actor": actor,
            "csrf": csrf_token(settings, cookie) if cookie else "",
            "msg": request.query_params.get("msg", ""),
            "error": request.query_params.get("error", ""),
            **context,
        },
        status_code=status_code,
    )
    # Sign-in and consent must never be framed by another site (clickjacking).
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = "frame-ancestors 'none'"
    return response
