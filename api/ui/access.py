"""The web UI's access pages: spaces and who holds which role where, custom roles,
users, API keys and the audit trail. Each tab shows what the signed-in user may see;
every form calls the same services as the REST API and the CLI."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from api.context import Caller
from api.errors import IntentError
from api.services import audit as audit_svc
from api.services import keys as key_svc
from api.services import spaces as svc
from api.services import users as user_svc
from api.ui.routes import UiCaller, _act, _back, _page, _refuse_if_forbidden

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

TABS = ("spaces", "roles", "users", "keys", "audit")


@router.get("/ui/access", response_class=HTMLResponse)
async def access_page(request: Request, caller: UiCaller, tab: str = "spaces") -> HTMLResponse:
    return await _tab(request, caller, tab)


async def _tab(request: Request, caller: Caller, tab: str, **extra: Any) -> HTMLResponse:
    tab = tab if tab in TABS else "spaces"
    context: dict[str, Any] = {"tab": tab, "tabs": TABS, "nav": "access", **extra}
    try:
        if tab == "spaces":
            spaces = await svc.list_spaces(caller)
            context["spaces"] = spaces
            context["bindings"] = {
                s.id: await svc.list_bindings(caller, s.id)
                for s in spaces
                if "intent-space:admin" in s.actions
            }
            context["roles"] = [r.name for r in await svc.list_roles(caller)]
        elif tab == "roles":
            context["roles"] = await svc.list_roles(caller)
            context["actions"] = svc.list_actions()
        elif tab == "users":
            context["users"] = await user_svc.list_users(caller)
        elif tab == "keys":
            context["keys"] = await key_svc.list_keys(caller)
        else:
            context["events"] = (await audit_svc.list_events(caller, limit=200)).events
    except IntentError as exc:
        _refuse_if_forbidden(exc)
        raise
    response = _page(request, caller, "access.html", **context)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/ui/access/spaces")
async def create_space(
    caller: UiCaller,
    name: Annotated[str, Form()],
    parent: Annotated[str, Form()] = "root",
    description: Annotated[str, Form()] = "",
) -> RedirectResponse:
    body = svc.SpaceCreate(name=name.strip(), parent=parent, description=description)
    return await _act("/ui/access", lambda: svc.create_space(caller, body), f"space {name} created")


@router.post("/ui/access/spaces/{space}/bindings")
async def bind(
    caller: UiCaller,
    space: str,
    role: Annotated[str, Form()],
    subject: Annotated[str, Form()],
    subject_kind: Annotated[str, Form()] = "user",
) -> RedirectResponse:
    body = svc.BindingCreate.model_validate(
        {"role": role, "subject_kind": subject_kind, "subject": subject.strip()}
    )
    return await _act(
        "/ui/access", lambda: svc.bind(caller, space, body), f"{role} bound to {subject}"
    )


@router.post("/ui/access/spaces/{space}/bindings/{binding_id}/delete")
async def unbind(caller: UiCaller, space: str, binding_id: str) -> RedirectResponse:
    return await _act(
        "/ui/access", lambda: svc.unbind(caller, space, binding_id), "binding removed"
    )


@router.post("/ui/access/roles")
async def create_role(
    request: Request,
    caller: UiCaller,
    name: Annotated[str, Form()],
    description: Annotated[str, Form()] = "",
) -> RedirectResponse:
    actions = [str(a) for a in (await request.form()).getlist("action")]
    path = "/ui/access?tab=roles"
    try:
        body = svc.RoleCreate(name=name.strip(), description=description, actions=actions)
    except ValueError:
        return _back(
            path,
            error="a role needs a name (lower-case letters, digits and -) and at least one action",
        )
    return await _act(path, lambda: svc.create_role(caller, body), f"role {name} created")


@router.post("/ui/access/users", response_model=None)
async def create_user(
    request: Request,
    caller: UiCaller,
    name: Annotated[str, Form()],
    email: Annotated[str, Form()] = "",
) -> HTMLResponse | RedirectResponse:
    """Answers with the page itself (not a redirect): the one-time link is shown once
    and never travels in a URL."""
    try:
        body = user_svc.UserCreate(name=name.strip(), email=email.strip() or None)
        _, link = await user_svc.create_user(caller, body)
    except IntentError as exc:
        _refuse_if_forbidden(exc)
        return _back("/ui/access?tab=users", error=exc.message)
    except ValueError:
        return _back("/ui/access?tab=users", error=f"{name!r} is not a valid user name")
    return await _tab(
        request, caller, "users", created_link=link.url if link else "", msg=f"user {name} created"
    )


@router.post("/ui/access/users/{name}/{state}")
async def set_state(caller: UiCaller, name: str, state: str) -> RedirectResponse:
    disable = state == "disable"
    return await _act(
        "/ui/access?tab=users",
        lambda: user_svc.set_disabled(caller, name, disable),
        f"{name} {'disabled' if disable else 'enabled'}",
    )


@router.post("/ui/access/keys", response_model=None)
async def create_key(
    request: Request,
    caller: UiCaller,
    name: Annotated[str, Form()],
    read_only: Annotated[bool, Form()] = False,
    expires_in_days: Annotated[str, Form()] = "",
) -> HTMLResponse | RedirectResponse:
    """Answers with the page itself: the key is shown once and never travels in a URL."""
    try:
        body = key_svc.KeyCreate(
            name=name.strip(),
            scopes=["mcp:read"] if read_only else ["mcp:read", "mcp:write"],
            expires_in_days=float(expires_in_days) if expires_in_days.strip() else None,
        )
        made = await key_svc.create_key(caller, body)
    except IntentError as exc:
        _refuse_if_forbidden(exc)
        return _back("/ui/access?tab=keys", error=exc.message)
    except ValueError:
        return _back("/ui/access?tab=keys", error="give a name and a number of days (or none)")
    return await _tab(request, caller, "keys", created_key=made.key, msg=f"API key {name} created")


@router.post("/ui/access/keys/{ref}/delete")
async def revoke_key(caller: UiCaller, ref: str) -> RedirectResponse:
    return await _act(
        "/ui/access?tab=keys", lambda: key_svc.revoke_key(caller, ref), "API key revoked"
    )
