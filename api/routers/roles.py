"""REST: /api/v1/roles (built-in and custom) and /api/v1/actions (what roles are made of)."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from api.deps import CallerDep
from api.services import spaces as svc

router = APIRouter(tags=["access"])


@router.get("/actions", response_model=list[svc.ActionView])
async def list_actions(caller: CallerDep) -> list[svc.ActionView]:
    return svc.list_actions()


@router.get("/roles", response_model=list[svc.RoleView])
async def list_roles(caller: CallerDep) -> list[svc.RoleView]:
    return await svc.list_roles(caller)


@router.post("/roles", response_model=svc.RoleView, status_code=status.HTTP_201_CREATED)
async def create_role(caller: CallerDep, body: svc.RoleCreate) -> svc.RoleView:
    return await svc.create_role(caller, body)


@router.put("/roles/{name}", response_model=svc.RoleView)
async def update_role(caller: CallerDep, name: str, body: svc.RoleUpsert) -> svc.RoleView:
    return await svc.update_role(caller, name, body)


@router.delete("/roles/{name}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_role(caller: CallerDep, name: str) -> Response:
    await svc.delete_role(caller, name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
