"""REST: /api/v1/spaces and the role bindings in each."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from api.deps import CallerDep
from api.services import spaces as svc

router = APIRouter(prefix="/spaces", tags=["access"])


@router.get("", response_model=list[svc.SpaceView])
async def list_spaces(caller: CallerDep) -> list[svc.SpaceView]:
    """The spaces where you may do something, with what you may do there."""
    return await svc.list_spaces(caller)


@router.post("", response_model=svc.SpaceView, status_code=status.HTTP_201_CREATED)
async def create_space(caller: CallerDep, body: svc.SpaceCreate) -> svc.SpaceView:
    return await svc.create_space(caller, body)


@router.delete("/{ref}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_space(caller: CallerDep, ref: str) -> Response:
    await svc.delete_space(caller, ref)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{ref}/bindings", response_model=list[svc.BindingView])
async def list_bindings(caller: CallerDep, ref: str) -> list[svc.BindingView]:
    return await svc.list_bindings(caller, ref)


@router.post("/{ref}/bindings", response_model=svc.BindingView, status_code=status.HTTP_201_CREATED)
async def bind(caller: CallerDep, ref: str, body: svc.BindingCreate) -> svc.BindingView:
    """Bind a role to a user, a group or an API key here (it applies to the spaces below)."""
    return await svc.bind(caller, ref, body)


@router.delete("/{ref}/bindings/{binding_id}", status_code=status.HTTP_204_NO_CONTENT)
async def unbind(caller: CallerDep, ref: str, binding_id: str) -> Response:
    await svc.unbind(caller, ref, binding_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
