"""REST: project environment variables and integrations."""

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


@router.get("/integrations", response_model=list[svc.IntegrationView])
async def list_integrations(caller: CallerDep, ref: str) -> list[svc.IntegrationView]:
    return await svc.list_integrations(caller, ref)


@router.put("/integrations/{namespace}/{name}", response_model=svc.IntegrationView)
async def put_integration(
    caller: CallerDep, ref: str, namespace: str, name: str, body: svc.IntegrationPut
) -> svc.IntegrationView:
    return await svc.put_integration(caller, ref, f"{namespace}/{name}", body)


@router.delete("/integrations/{namespace}/{name}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_integration(caller: CallerDep, ref: str, namespace: str, name: str) -> Response:
    await svc.delete_integration(caller, ref, f"{namespace}/{name}")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
