"""REST: /api/v1/projects and each project's lock."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from api.deps import CallerDep
from api.services import exports, lifecycle, locks, project_overview
from api.services import projects as svc
from api.services.projects import LockView

router = APIRouter(prefix="/projects", tags=["projects"])


@router.get("", response_model=svc.ProjectList)
async def list_projects(
    caller: CallerDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
) -> svc.ProjectList:
    return await svc.list_projects(caller, limit=limit, cursor=cursor)


@router.post("", response_model=svc.ProjectView, status_code=status.HTTP_201_CREATED)
async def create_project(caller: CallerDep, body: svc.ProjectCreate) -> svc.ProjectView:
    return await svc.create_project(caller, body)


@router.get("/{ref}", response_model=svc.ProjectView)
async def get_project(caller: CallerDep, ref: str) -> svc.ProjectView:
    return await svc.get_project(caller, ref)


@router.get("/{ref}/describe", response_model=project_overview.ProjectDescription)
async def describe_project(caller: CallerDep, ref: str) -> project_overview.ProjectDescription:
    """Lock, space, labels, integrations, policies, provider versions and counts."""
    return await project_overview.describe_project(caller, ref)


@router.patch("/{ref}", response_model=svc.ProjectView)
async def update_project(caller: CallerDep, ref: str, body: svc.ProjectUpdate) -> svc.ProjectView:
    """Change the description or labels, or move the project to another space."""
    return await svc.update_project(caller, ref, body)


@router.delete(
    "/{ref}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={202: {"description": "A change deleting its resources was started first"}},
)
async def delete_project(caller: CallerDep, ref: str, destroy_resources: bool = False) -> Response:
    """Delete a project that manages no resources. With ``destroy_resources``, a project
    that still does gets one change deleting them all (202 with its id: confirm it like any
    delete, then DELETE the project again)."""
    if destroy_resources:
        change_id = await lifecycle.destroy_resources(caller, ref)
        if change_id is not None:
            return JSONResponse(
                {
                    "change_id": change_id,
                    "message": f"change {change_id} deletes the project's resources; confirm "
                    "it (POST /api/v1/changes/{id}/confirm), and once it is applied delete "
                    "the project again",
                },
                status_code=status.HTTP_202_ACCEPTED,
            )
    await svc.delete_project(caller, ref)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{ref}/lock", response_model=LockView)
async def get_lock(caller: CallerDep, ref: str) -> LockView:
    project = await svc.load_project(caller, ref)
    return LockView.from_lease(await locks.lease(caller, project))


@router.post("/{ref}/lock", response_model=svc.UseResult)
async def acquire_lock(caller: CallerDep, ref: str) -> svc.UseResult:
    return await svc.use_project(caller, ref)


@router.post("/{ref}/lock/renew", response_model=LockView)
async def renew_lock(caller: CallerDep, ref: str) -> LockView:
    project = await svc.load_project(caller, ref)
    return LockView.from_lease(await locks.renew(caller, project))


@router.delete("/{ref}/lock", response_model=svc.UseResult)
async def release_lock(caller: CallerDep, ref: str, force: bool = False) -> svc.UseResult:
    """Release your own lease; ``force=true`` (admins) frees someone else's."""
    return await svc.release_project(caller, ref, force=force)


@router.post("/{ref}/export", response_model=exports.ExportView)
async def export_project(
    caller: CallerDep, ref: str, body: exports.ExportRequest | None = None
) -> exports.ExportView:
    """The project as Terraform files: HCL, import blocks, terraform.tfstate, lock file.

    ``include_secrets`` (admins; recorded in history) writes sensitive values into the
    state; without it, resources holding secrets come in through their import blocks."""
    request = body or exports.ExportRequest()
    return await exports.export_project(caller, ref, include_secrets=request.include_secrets)


class DriftScheduleBody(BaseModel):
    interval_seconds: float | None = Field(
        default=None, ge=0, description="Seconds between drift checks; null or 0 turns it off"
    )


@router.put("/{ref}/drift-schedule", response_model=lifecycle.DriftSchedule)
async def drift_schedule(
    caller: CallerDep, ref: str, body: DriftScheduleBody
) -> lifecycle.DriftSchedule:
    """Check the project for drift every ``interval_seconds`` (a Temporal Schedule)."""
    return await lifecycle.set_drift_interval(caller, ref, body.interval_seconds)


class TtlBody(BaseModel):
    ttl: str | None = Field(
        default=None,
        description="A duration (2h, 7d, 1d12h) or a timestamp; null removes the TTL. A "
        "later expiry (or none) extends the TTL, which needs the admin role.",
    )


@router.put("/{ref}/ttl", response_model=lifecycle.TtlView)
async def set_ttl(caller: CallerDep, ref: str, body: TtlBody) -> lifecycle.TtlView:
    """Set, move or remove the project's TTL (its resources deleted, then archived)."""
    return await lifecycle.set_ttl(caller, ref, body.ttl)
