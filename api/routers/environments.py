"""REST: project environment variables."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from api.deps import CallerDep
from api.services import environments as svc

router = APIRouter(prefix="/projects/{ref}", tags=["environment"])


@router.get("/environment", response_model=list[svc.VariableView])
async def list_variables(caller: CallerDep, ref: str) -> list[svc.VariableView]:
    return await svc.list_variables(caller, ref)


@router.put("/environment/{name}", response_model=svc.VariableView)
async def put_variable(
    caller: CallerDep, ref: str, name: str, body: svc.VariablePut
) -> svc.VariableView:
    return await svc.put_variable(caller, ref, name, body)


@router.delete("/environment/{name}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_variable(caller: CallerDep, ref: str, name: str) -> Response:
    await svc.delete_variable(caller, ref, name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
