"""The Jinja environment every server-rendered page shares (UI, sign-in, consent)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from starlette.requests import Request

from api.oauth.sessions import COOKIE, csrf_token
from workflows.actor import Actor

__all__ = ["change_title", "page", "templates"]

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
templates.env.filters["pretty"] = lambda value: json.dumps(
    value, indent=2, sort_keys=True, default=str
)


def _words(value: object) -> str:
    """``awaiting_confirmation`` reads as "awaiting confirmation"."""
    return str(value).replace("_", " ")


def change_title(operations: Iterable[Any], shown: int = 3) -> str:
    """A change named by what it does: "Create attachments, logs and 2 more"."""
    parts: list[str] = []
    kind = None
    ops = list(operations)
    for op in ops[:shown]:
        get = op.get if isinstance(op, dict) else lambda k, o=op: getattr(o, k, None)
        this = get("kind")
        parts.append(f"{this} {get('resource_id')}" if this != kind else str(get("resource_id")))
        kind = this
    title = ", ".join(parts) + (f" and {len(ops) - shown} more" if len(ops) > shown else "")
    return title[:1].upper() + title[1:] if title else "Change"


templates.env.filters["words"] = _words
templates.env.filters["change_title"] = change_title


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
