"""The web UI's integration pages: the Integrations list (create an AWS integration,
see the external id and trust policy its roles need) and the project's Integrations
tab forms (attach with a region and Read / Write switches, detach). Every form calls
the same services as the REST API, the MCP tools and the CLI."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from api.errors import IntentError
from api.services import integrations as svc
from api.services import spaces as space_svc
from api.ui.routes import AWS_REGIONS, UiCaller, _act, _back, _page, _refuse_if_forbidden

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


@router.get("/ui/integrations", response_class=HTMLResponse)
async def integrations_page(request: Request, caller: UiCaller) -> HTMLResponse:
    manageable = [s for s in await space_svc.list_spaces(caller) if svc.MANAGE in s.actions]
    return _page(
        request,
        caller,
        "integrations.html",
        nav="integrations",
        integrations=await svc.list_integrations(caller),
        spaces=manageable,
        regions=AWS_REGIONS,
    )


@router.get("/ui/integrations/{ref}", response_class=HTMLResponse)
async def integration_page(request: Request, caller: UiCaller, ref: str) -> Any:
    try:
        integration = await svc.get_integration(caller, ref)
    except IntentError as exc:
        _refuse_if_forbidden(exc)
        return _back("/ui/integrations", error=exc.message)
    return _page(
        request,
        caller,
        "integration.html",
        nav="integrations",
        integration=integration,
        regions=AWS_REGIONS,
    )


def _aws_settings(
    role_arn: str, read_role_arn: str, region: str, session_seconds: str
) -> dict[str, Any]:
    settings: dict[str, Any] = {"role_arn": role_arn.strip(), "region": region}
    settings["read_role_arn"] = read_role_arn.strip() or None
    if session_seconds.strip():
        settings["session_seconds"] = int(session_seconds) if session_seconds.isdigit() else -1
    return settings


@router.post("/ui/integrations")
async def create_integration(
    caller: UiCaller,
    name: Annotated[str, Form()],
    role_arn: Annotated[str, Form()],
    region: Annotated[str, Form()],
    space: Annotated[str, Form()] = "",
    read_role_arn: Annotated[str, Form()] = "",
    session_seconds: Annotated[str, Form()] = "",
) -> RedirectResponse:
    try:
        body = svc.IntegrationCreate(
            name=name.strip(),
            kind="aws",
            space=space or None,
            settings=_aws_settings(role_arn, read_role_arn, region, session_seconds),
        )
    except ValueError:
        return _back("/ui/integrations", error=f"{name!r} is not a valid integration name")
    try:
        made = await svc.create_integration(caller, body)
    except IntentError as exc:
        _refuse_if_forbidden(exc)
        return _back("/ui/integrations", error=exc.message)
    return _back(
        f"/ui/integrations/{made.name}",
        msg=f"integration {made.name} created: give its roles the trust policy below",
    )


@router.post("/ui/integrations/{ref}")
async def update_integration(
    caller: UiCaller,
    ref: str,
    role_arn: Annotated[str, Form()],
    region: Annotated[str, Form()],
    read_role_arn: Annotated[str, Form()] = "",
    session_seconds: Annotated[str, Form()] = "",
) -> RedirectResponse:
    body = svc.IntegrationUpdate(
        settings=_aws_settings(role_arn, read_role_arn, region, session_seconds)
    )
    return await _act(
        f"/ui/integrations/{ref}",
        lambda: svc.update_integration(caller, ref, body),
        f"integration {ref} saved",
    )


@router.post("/ui/integrations/{ref}/rotate")
async def rotate_external_id(caller: UiCaller, ref: str) -> RedirectResponse:
    body = svc.IntegrationUpdate(settings={"rotate_external_id": True})
    return await _act(
        f"/ui/integrations/{ref}",
        lambda: svc.update_integration(caller, ref, body),
        "new external id: update the roles' trust policies before the next change",
    )


@router.post("/ui/integrations/{ref}/delete")
async def delete_integration(caller: UiCaller, ref: str) -> RedirectResponse:
    try:
        await svc.delete_integration(caller, ref)
    except IntentError as exc:
        _refuse_if_forbidden(exc)
        return _back(f"/ui/integrations/{ref}", error=exc.message)
    return _back("/ui/integrations", msg=f"integration {ref} deleted")


# -- a project's Integrations tab ---------------------------------------------------------


@router.post("/ui/projects/{project}/integrations")
async def attach(
    caller: UiCaller,
    project: str,
    integration: Annotated[str, Form()],
    region: Annotated[str, Form()] = "",
    read: Annotated[bool, Form()] = False,
    write: Annotated[bool, Form()] = False,
    relocate: Annotated[bool, Form()] = False,
) -> RedirectResponse:
    tab = f"/ui/projects/{project}?tab=integrations"
    if region and region not in AWS_REGIONS:
        return _back(tab, error=f"unknown region {region}")
    body = svc.AttachmentPut(region=region or None, read=read, write=write, relocate=relocate)
    return await _act(
        tab,
        lambda: svc.attach(caller, project, integration, body),
        f"integration {integration} attached",
    )


@router.post("/ui/projects/{project}/integrations/{integration}/detach")
async def detach(caller: UiCaller, project: str, integration: str) -> RedirectResponse:
    return await _act(
        f"/ui/projects/{project}?tab=integrations",
        lambda: svc.detach(caller, project, integration),
        f"integration {integration} detached",
    )
