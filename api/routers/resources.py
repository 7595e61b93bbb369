"""REST: a project's resources (state) and their dependencies."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.deps import CallerDep
from api.services import discovery
from api.services import resources as svc

router = APIRouter(prefix="/projects/{ref}/resources", tags=["resources"])


class DependencyBody(BaseModel):
    depends_on: list[str] = Field(min_length=1)


@router.get("", response_model=svc.ResourceList)
async def list_resources(
    caller: CallerDep,
    ref: str,
    resource_type: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
) -> svc.ResourceList:
    return await svc.list_resources(
        caller, ref, resource_type=resource_type, limit=limit, cursor=cursor
    )


@router.post("/discover", response_model=discovery.DiscoveryView)
async def discover(
    caller: CallerDep, ref: str, body: discovery.DiscoveryRequest
) -> discovery.DiscoveryView:
    """Existing cloud objects of a type that the project does not manage yet (needs the
    project's lock: it lists with the project's credentials)."""
    return await discovery.discover(caller, ref, body)


@router.get("/{resource_id}", response_model=svc.ResourceDetail)
async def get_resource(caller: CallerDep, ref: str, resource_id: str) -> svc.ResourceDetail:
    return await svc.get_resource(caller, ref, resource_id)


@router.delete("/{resource_id}/state", response_model=svc.ResourceSummary)
async def eject(caller: CallerDep, ref: str, resource_id: str) -> svc.ResourceSummary:
    """Forget the resource (state only); the cloud object is not touched."""
    return await svc.eject(caller, ref, resource_id)


@router.get("/{resource_id}/dependencies", response_model=svc.DependencyView)
async def get_dependencies(caller: CallerDep, ref: str, resource_id: str) -> svc.DependencyView:
    return await svc.get_dependencies(caller, ref, resource_id)


@router.post("/{resource_id}/dependencies", response_model=svc.DependencyView)
async def add_dependencies(
    caller: CallerDep, ref: str, resource_id: str, body: DependencyBody
) -> svc.DependencyView:
    return await svc.add_dependencies(caller, ref, resource_id, body.depends_on)


@router.delete("/{resource_id}/dependencies", response_model=svc.DependencyView)
async def remove_dependencies(
    caller: CallerDep, ref: str, resource_id: str, depends_on: Annotated[list[str], Query()]
) -> svc.DependencyView:
    return await svc.remove_dependencies(caller, ref, resource_id, depends_on)
