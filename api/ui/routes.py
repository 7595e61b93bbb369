"""The web UI: server-rendered pages over the same services as REST and MCP.

Signing in happens on the authorization server's pages (``api/oauth/login.py``), which
leave a session cookie; every form post here carries that session's CSRF token and is
checked against the Origin header, so another site cannot act for a signed-in user.
Every action is recorded with ``via: ui``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from api.context import AppContext, Caller
from api.deps import AppDep
from api.errors import Forbidden, IntentError
from api.oauth import sessions
from api.services import changes as changes_svc
from api.services import environments as env_svc
from api.services import history as history_svc
from api.services import integrations as integration_svc
from api.services import locks
from api.services import policies as policy_svc
from api.services import projects as project_svc
from api.services import resources as resource_svc
from api.services import rollback as rollback_svc
from api.services import spaces as space_svc
from api.ui.templating import HERE
from api.ui.templating import page as render
from policies import library

__all__ = ["router"]


router = APIRouter(include_in_schema=False)

AWS_REGIONS = (
    "us-east-1", "us-east-2", "us-west-1", "us-west-2", "eu-west-1", "eu-west-2",
    "eu-central-1", "eu-north-1", "ap-southeast-1", "ap-southeast-2", "ap-northeast-1",
    "ca-central-1", "sa-east-1",
)  # fmt: skip


class SignIn(Exception):
    """No (valid) session: send the browser to the sign-in page."""


class Refused(Exception):
    """The permission rules refused the signed-in user: a 403 page that says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _refuse_if_forbidden(exc: IntentError) -> None:
    if isinstance(exc, Forbidden):
        raise Refused(exc.message) from exc


async def ui_caller(request: Request, app: AppDep) -> Caller:
    signed_in = await sessions.current(request, app)
    if signed_in is None:
        raise SignIn()
    if request.method == "POST":
        form = await request.form()
        if not sessions.same_origin(request) or not sessions.valid_csrf(
            app.settings, signed_in, str(form.get("csrf") or "")
        ):
            raise HTTPException(403, "cross-site or stale form post refused; reload the page")
    return Caller(app=app, principal=signed_in.principal, via="ui")


UiCaller = Annotated[Caller, Depends(ui_caller)]


def _back(path: str, *, msg: str = "", error: str = "") -> RedirectResponse:
    query = []
    if msg:
        query.append(f"msg={quote(msg)}")
    if error:
        query.append(f"error={quote(error)}")
    sep = "&" if "?" in path else "?"
    return RedirectResponse(path + (sep + "&".join(query) if query else ""), status_code=303)


async def _act(path: str, action: Callable[[], Awaitable[Any]], success: str) -> RedirectResponse:
    """Run a form action; user errors come back as a banner on ``path``."""
    try:
        await action()
    except IntentError as exc:
        _refuse_if_forbidden(exc)
        return _back(path, error=exc.message)
    return _back(path, msg=success)


def _page(request: Request, caller: Caller | None, name: str, **context: Any) -> HTMLResponse:
    return render(request, name, caller.actor if caller else None, **context)


# -- home ---------------------------------------------------------------------------------


@router.get("/", response_class=RedirectResponse)
async def home() -> RedirectResponse:
    return RedirectResponse("/ui/projects", status_code=303)


@router.get("/favicon.ico", response_class=RedirectResponse)
async def favicon() -> RedirectResponse:
    # Browsers ask for /favicon.ico whatever the page's <link rel="icon"> says.
    return RedirectResponse("/ui/static/favicon.svg", status_code=301)


# -- projects -----------------------------------------------------------------------------


@router.get("/ui/projects", response_class=HTMLResponse)
async def projects_page(request: Request, caller: UiCaller) -> HTMLResponse:
    page = await project_svc.list_projects(caller, limit=200)
    creatable = [
        s for s in await space_svc.list_spaces(caller) if "intent-project:create" in s.actions
    ]
    return _page(request, caller, "projects.html", projects=page.projects, spaces=creatable)


@router.post("/ui/projects")
async def create_project(
    caller: UiCaller,
    name: Annotated[str, Form()],
    labels: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
    space: Annotated[str, Form()] = "",
) -> RedirectResponse:
    try:
        body = project_svc.ProjectCreate(
            name=name.strip(),
            description=description,
            labels=[label.strip() for label in labels.split(",") if label.strip()],
            space=space or None,
        )
    except ValidationError:
        return _back("/ui/projects", error=f"{name!r} is not a valid project name")
    try:
        await project_svc.create_project(caller, body)
    except IntentError as exc:
        _refuse_if_forbidden(exc)
        return _back("/ui/projects", error=exc.message)
    return _back(f"/ui/projects/{body.name}", msg=f"project {body.name} created")


TABS = ("resources", "history", "policies", "integrations", "environment")


@router.get("/ui/projects/{ref}")
async def project_page(
    request: Request, caller: UiCaller, ref: str, tab: str = "resources"
) -> Response:
    tab = tab if tab in TABS else "resources"
    try:
        project = await project_svc.get_project(caller, ref)
    except IntentError as exc:
        _refuse_if_forbidden(exc)
        return _back("/ui/projects", error=exc.message)
    context: dict[str, Any] = {
        "project": project,
        "tab": tab,
        "tabs": TABS,
        "ttl_notice": project_svc.expiry_notice(project, caller.settings),
    }
    if tab == "resources":
        context["resources"] = (await resource_svc.list_resources(caller, ref, limit=200)).resources
        context["changes"] = await changes_svc.list_changes(caller, project_ref=ref, limit=10)
    elif tab == "history":
        context["history"] = (await history_svc.project_history(caller, ref, limit=200)).entries
    elif tab == "policies":
        context["governing"] = await policy_svc.project_policies(caller, ref)
        context["all_policies"] = (await policy_svc.list_policies(caller, limit=200)).policies
    elif tab == "integrations":
        context["attached"] = await integration_svc.list_attachments(caller, ref)
        context["attachable"] = await integration_svc.attachable(caller, ref)
        context["regions"] = AWS_REGIONS
    else:
        context["variables"] = await env_svc.list_variables(caller, ref)
    return _page(request, caller, "project.html", **context)


@router.post("/ui/projects/{ref}/unlock")
async def unlock(caller: UiCaller, ref: str) -> RedirectResponse:
    async def release() -> None:
        project = await project_svc.load_project(caller, ref)
        lease = await locks.lease(caller, project)
        mine = lease.holder is not None and lease.holder.id == caller.actor.id
        await project_svc.release_project(caller, ref, force=not mine)

    return await _act(f"/ui/projects/{ref}", release, "the project is unlocked")


@router.post("/ui/projects/{ref}/policies")
async def attach_policy(
    caller: UiCaller, ref: str, policy: Annotated[str, Form()]
) -> RedirectResponse:
    return await _act(
        f"/ui/projects/{ref}?tab=policies",
        lambda: policy_svc.attach(caller, policy, ref),
        f"policy {policy} attached",
    )


@router.post("/ui/projects/{ref}/policies/{policy}/detach")
async def detach_policy(caller: UiCaller, ref: str, policy: str) -> RedirectResponse:
    return await _act(
        f"/ui/projects/{ref}?tab=policies",
        lambda: policy_svc.detach(caller, policy, ref),
        f"policy {policy} detached",
    )


@router.post("/ui/projects/{ref}/environment")
async def set_variable(
    caller: UiCaller,
    ref: str,
    name: Annotated[str, Form()],
    value: Annotated[str, Form()],
    secret: Annotated[bool, Form()] = False,
) -> RedirectResponse:
    return await _act(
        f"/ui/projects/{ref}?tab=environment",
        lambda: env_svc.put_variable(
            caller, ref, name.strip(), env_svc.VariablePut(value=value, secret=secret)
        ),
        f"{name} saved",
    )


@router.post("/ui/projects/{ref}/environment/{name}/delete")
async def delete_variable(caller: UiCaller, ref: str, name: str) -> RedirectResponse:
    return await _act(
        f"/ui/projects/{ref}?tab=environment",
        lambda: env_svc.delete_variable(caller, ref, name),
        f"{name} deleted",
    )


@router.get("/ui/projects/{ref}/resources/{resource_id}")
async def resource_page(request: Request, caller: UiCaller, ref: str, resource_id: str) -> Response:
    try:
        resource = await resource_svc.get_resource(caller, ref, resource_id)
    except IntentError as exc:
        _refuse_if_forbidden(exc)
        return _back(f"/ui/projects/{ref}", error=exc.message)
    entries = (
        await history_svc.project_history(caller, ref, resource_id=resource_id, limit=50)
    ).entries
    return _page(request, caller, "resource.html", project=ref, resource=resource, history=entries)


# -- changes ------------------------------------------------------------------------------


@router.get("/ui/changes/{change_id}")
async def change_page(request: Request, caller: UiCaller, change_id: str) -> Response:
    try:
        view = await changes_svc.change_view(caller, change_id)
    except IntentError as exc:
        _refuse_if_forbidden(exc)
        return _back("/ui/projects", error=exc.message)
    return _page(request, caller, "change.html", change=view, summary=changes_svc.summarize(view))


@router.post("/ui/changes/{change_id}/revert")
async def revert(
    caller: UiCaller, change_id: str, include_later: Annotated[bool, Form()] = False
) -> RedirectResponse:
    """Undo the change with a new one, and show that one."""
    try:
        new_id = await rollback_svc.revert_change(caller, change_id, include_later=include_later)
    except IntentError as exc:
        _refuse_if_forbidden(exc)
        return _back(f"/ui/changes/{change_id}", error=exc.message)
    return _back(f"/ui/changes/{new_id}", msg=f"reverting change {change_id}")


@router.post("/ui/changes/{change_id}/{decision}")
async def decide(
    caller: UiCaller, change_id: str, decision: str, comment: Annotated[str, Form()] = ""
) -> RedirectResponse:
    actions: dict[str, Callable[[], Awaitable[Any]]] = {
        "confirm": lambda: changes_svc.confirm(caller, change_id, comment),
        "reject": lambda: changes_svc.reject(caller, change_id, comment),
        "retry": lambda: changes_svc.retry(caller, change_id, comment),
        "abandon": lambda: changes_svc.abandon(caller, change_id, comment),
    }
    if decision not in actions:
        raise HTTPException(404)
    return await _act(f"/ui/changes/{change_id}", actions[decision], f"{decision}: sent")


# -- policies -----------------------------------------------------------------------------


@router.get("/ui/policies", response_class=HTMLResponse)
async def policies_page(request: Request, caller: UiCaller) -> HTMLResponse:
    page = await policy_svc.list_policies(caller, limit=200)
    examples = {name: library.read(name) for name in library.names()}
    return _page(request, caller, "policies.html", policies=page.policies, examples=examples)


@router.post("/ui/policies")
async def create_policy(
    caller: UiCaller,
    name: Annotated[str, Form()],
    body: Annotated[str, Form()],
    labels: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
) -> RedirectResponse:
    try:
        create = policy_svc.PolicyCreate(
            name=name.strip(),
            body=body,
            description=description,
            labels=[label.strip() for label in labels.split(",") if label.strip()],
        )
    except ValidationError as exc:
        return _back("/ui/policies", error=f"check the form: {exc.errors()[0]['msg']}")
    try:
        await policy_svc.create_policy(caller, create)
    except IntentError as exc:
        _refuse_if_forbidden(exc)
        return _back("/ui/policies", error=exc.message)
    return _back(f"/ui/policies/{create.name}", msg=f"policy {create.name} created")


@router.get("/ui/policies/{ref}")
async def policy_page(request: Request, caller: UiCaller, ref: str) -> Response:
    try:
        policy = await policy_svc.get_policy(caller, ref)
    except IntentError as exc:
        _refuse_if_forbidden(exc)
        return _back("/ui/policies", error=exc.message)
    samples = await _samples(caller, ref)
    projects = (await project_svc.list_projects(caller, limit=200)).projects
    return _page(
        request,
        caller,
        "policy.html",
        policy=policy,
        samples=samples,
        projects=projects,
        simulation=None,
    )


async def _samples(caller: Caller, ref: str) -> list[policy_svc.SampleView]:
    """Samples for the workbench, or none for those whose role may not read them."""
    try:
        return await policy_svc.list_samples(caller, ref, limit=20)
    except IntentError:
        return []


@router.post("/ui/policies/{ref}")
async def update_policy(
    caller: UiCaller,
    ref: str,
    body: Annotated[str, Form()],
    labels: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
) -> RedirectResponse:
    changes = policy_svc.PolicyUpdate(
        body=body,
        description=description,
        labels=[label.strip() for label in labels.split(",") if label.strip()],
    )
    return await _act(
        f"/ui/policies/{ref}",
        lambda: policy_svc.update_policy(caller, ref, changes),
        "policy saved",
    )


@router.post("/ui/policies/{ref}/simulate", response_class=HTMLResponse)
async def simulate_policy(
    request: Request,
    caller: UiCaller,
    ref: str,
    body: Annotated[str, Form()] = "",
    sample_id: Annotated[str, Form()] = "",
    input_json: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """The workbench: shows the decision on the same page (nothing is saved)."""
    simulation: dict[str, Any]
    try:
        given = json.loads(input_json) if input_json.strip() else None
        result = await policy_svc.simulate(
            caller,
            ref,
            policy_svc.SimulateRequest(body=body or None, sample_id=sample_id or None, input=given),
        )
        simulation = result.model_dump()
    except json.JSONDecodeError as exc:
        simulation = {"error": f"the input is not JSON: {exc}"}
    except IntentError as exc:
        _refuse_if_forbidden(exc)
        simulation = {"error": exc.message}
    policy = await policy_svc.get_policy(caller, ref)
    samples = await _samples(caller, ref)
    projects = (await project_svc.list_projects(caller, limit=200)).projects
    return _page(
        request,
        caller,
        "policy.html",
        policy=policy,
        samples=samples,
        projects=projects,
        simulation=simulation,
        draft=body,
    )


def install(app: Any, app_ctx: AppContext) -> None:
    """Mount the UI on ``app``: routes, static files, and the sign-in redirect."""
    from fastapi.staticfiles import StaticFiles

    from api.ui import access, integrations

    app.include_router(router)
    app.include_router(access.router)
    app.include_router(integrations.router)
    app.mount("/ui/static", StaticFiles(directory=str(HERE / "static")), name="ui-static")

    async def _refused(request: Request, exc: Exception) -> HTMLResponse:
        assert isinstance(exc, Refused)
        signed_in = await sessions.current(request, app_ctx)
        actor = signed_in.actor() if signed_in else None
        return render(request, "refused.html", actor, problem=exc.message, status_code=403)

    async def _sign_in(request: Request, _: Exception) -> RedirectResponse:
        target = request.url.path if request.method == "GET" else "/ui/projects"
        return RedirectResponse(f"/ui/login?next={quote(target)}", status_code=303)

    app.add_exception_handler(Refused, _refused)
    app.add_exception_handler(SignIn, _sign_in)
