"""REST: changes (submit, follow, decide) — the same operations as the MCP tools."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, Field

from api.deps import CallerDep
from api.services import changes as svc
from api.services import rollback
from api.services.changes import ChangeSummary, OperationInput
from workflows.models import ChangeView

router = APIRouter(tags=["changes"])


WaitSeconds = Field(
    default=0, ge=0, le=600, description="Follow the change this long before answering"
)


class ChangeCreate(BaseModel):
    operations: list[OperationInput] = Field(min_length=1, max_length=100)
    dry_run: bool = False
    region: str | None = Field(
        default=None,
        description="The region you expect the change to act in; refused if the project's "
        "integration is attached with another",
    )
    wait_seconds: float = WaitSeconds


class Decision(BaseModel):
    comment: str = ""
    wait_seconds: float = WaitSeconds


class RetryBody(BaseModel):
    comment: str = ""
    config_patches: dict[str, dict[str, Any]] | None = None
    wait_seconds: float = WaitSeconds


class ChangeRow(BaseModel):
    change_id: str
    project_id: str
    status: str
    actor: str
    via: str
    dry_run: bool
    operations: list[str]
    message: str = ""
    created_at: Any
    finished_at: Any = None


@router.post(
    "/projects/{ref}/changes", response_model=ChangeSummary, status_code=status.HTTP_202_ACCEPTED
)
async def create_change(caller: CallerDep, ref: str, body: ChangeCreate) -> ChangeSummary:
    view = await svc.submit_and_wait(
        caller,
        ref,
        body.operations,
        dry_run=body.dry_run,
        seconds=body.wait_seconds,
        region=body.region,
    )
    return svc.summarize(view, caller.settings.base_url)


async def _followed(caller: CallerDep, view: ChangeView, seconds: float) -> ChangeSummary:
    """After a decision: the change as it is, or as it settles within ``seconds``."""
    if seconds and view.status not in svc.SETTLED:
        view = await svc.wait(caller, view.change_id, seconds=seconds)
    return svc.summarize(view, caller.settings.base_url)


@router.get("/changes", response_model=list[ChangeRow])
async def list_changes(
    caller: CallerDep,
    project: str | None = None,
    status_: Annotated[str | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
    cursor: str | None = None,
) -> list[ChangeRow]:
    rows = await svc.list_changes(
        caller, project_ref=project, status=status_, limit=limit, cursor=cursor
    )
    return [
        ChangeRow(
            change_id=r.id,
            project_id=r.project_id,
            status=r.status,
            actor=r.actor_name,
            via=r.via,
            dry_run=r.dry_run,
            operations=[f"{o['kind']} {o['resource_id']}" for o in r.request],
            message=str(r.summary.get("message", "")),
            created_at=r.created_at,
            finished_at=r.finished_at,
        )
        for r in rows
    ]


@router.get("/changes/{change_id}", response_model=ChangeSummary)
async def get_change(caller: CallerDep, change_id: str) -> ChangeSummary:
    return svc.summarize(await svc.change_view(caller, change_id), caller.settings.base_url)


@router.get("/changes/{change_id}/detail", response_model=ChangeView)
async def get_change_detail(caller: CallerDep, change_id: str) -> ChangeView:
    """The full view: plan with redacted before/after and every policy result."""
    return await svc.change_view(caller, change_id)


@router.post("/changes/{change_id}/confirm", response_model=ChangeSummary)
async def confirm(caller: CallerDep, change_id: str, body: Decision | None = None) -> ChangeSummary:
    body = body or Decision()
    view = await svc.confirm(caller, change_id, body.comment)
    return await _followed(caller, view, body.wait_seconds)


@router.post("/changes/{change_id}/reject", response_model=ChangeSummary)
async def reject(caller: CallerDep, change_id: str, body: Decision | None = None) -> ChangeSummary:
    view = await svc.reject(caller, change_id, body.comment if body else "")
    return svc.summarize(view, caller.settings.base_url)


@router.post("/changes/{change_id}/retry", response_model=ChangeSummary)
async def retry(caller: CallerDep, change_id: str, body: RetryBody | None = None) -> ChangeSummary:
    body = body or RetryBody()
    view = await svc.retry(caller, change_id, body.comment, body.config_patches)
    return await _followed(caller, view, body.wait_seconds)


@router.post("/changes/{change_id}/abandon", response_model=ChangeSummary)
async def abandon(caller: CallerDep, change_id: str, body: Decision | None = None) -> ChangeSummary:
    view = await svc.abandon(caller, change_id, body.comment if body else "")
    return svc.summarize(view, caller.settings.base_url)


@router.post(
    "/changes/{change_id}/revert",
    response_model=ChangeSummary,
    status_code=status.HTTP_202_ACCEPTED,
)
async def revert_change(
    caller: CallerDep, change_id: str, body: rollback.RevertRequest | None = None
) -> ChangeSummary:
    """A new change returning what ``change_id`` touched to its configuration before it
    (409 naming a later change that touched the same resources, unless include_later)."""
    request = body or rollback.RevertRequest()
    new_id = await rollback.revert_change(caller, change_id, include_later=request.include_later)
    return svc.summarize(await svc.change_view(caller, new_id), caller.settings.base_url)


@router.post(
    "/projects/{ref}/resources/{resource_id}/revert",
    response_model=ChangeSummary,
    status_code=status.HTTP_202_ACCEPTED,
)
async def revert_resource(
    caller: CallerDep, ref: str, resource_id: str, body: rollback.ResourceRevertRequest
) -> ChangeSummary:
    """A new change returning one resource to the configuration a change left it with."""
    new_id = await rollback.revert_resource(caller, ref, resource_id, body.to_change_id)
    return svc.summarize(await svc.change_view(caller, new_id), caller.settings.base_url)


class RefreshBody(BaseModel):
    resource_ids: list[str] | None = Field(
        default=None, max_length=100, description="Default: every resource of the project"
    )
    wait_seconds: float = Field(default=0, ge=0, le=600)


@router.post(
    "/projects/{ref}/refresh", response_model=ChangeSummary, status_code=status.HTTP_202_ACCEPTED
)
async def refresh(caller: CallerDep, ref: str, body: RefreshBody | None = None) -> ChangeSummary:
    """Re-read resources (default: all) and mark what changed or vanished outside intent."""
    request = body or RefreshBody()
    change_id = await svc.refresh(caller, ref, request.resource_ids)
    view = await svc.wait(caller, change_id, seconds=request.wait_seconds)
    return svc.summarize(view, caller.settings.base_url)
