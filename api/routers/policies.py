"""REST: Intent policies, attachments, samples and the simulation workbench."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status

from api.deps import CallerDep
from api.services import policies as svc

router = APIRouter(tags=["policies"])


@router.get("/policies", response_model=svc.PolicyList)
async def list_policies(
    caller: CallerDep, limit: Annotated[int, Query(ge=1, le=200)] = 50, cursor: str | None = None
) -> svc.PolicyList:
    return await svc.list_policies(caller, limit=limit, cursor=cursor)


@router.post("/policies", response_model=svc.PolicyView, status_code=status.HTTP_201_CREATED)
async def create_policy(caller: CallerDep, body: svc.PolicyCreate) -> svc.PolicyView:
    return await svc.create_policy(caller, body)


@router.get("/policies/input-schema", response_model=svc.PolicyInputSchema)
async def policy_input_schema(caller: CallerDep) -> svc.PolicyInputSchema:
    """The policy input contract as JSON Schema, with an example and the rules."""
    return svc.input_schema()


@router.get("/policies/{ref}", response_model=svc.PolicyView)
async def get_policy(caller: CallerDep, ref: str) -> svc.PolicyView:
    return await svc.get_policy(caller, ref)


@router.patch("/policies/{ref}", response_model=svc.PolicyView)
async def update_policy(caller: CallerDep, ref: str, body: svc.PolicyUpdate) -> svc.PolicyView:
    return await svc.update_policy(caller, ref, body)


@router.delete("/policies/{ref}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_policy(caller: CallerDep, ref: str) -> Response:
    """Delete a policy that governs no project (409 naming them otherwise)."""
    await svc.delete_policy(caller, ref)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put("/projects/{project}/policies/{ref}", response_model=svc.PolicyView)
async def attach(caller: CallerDep, project: str, ref: str) -> svc.PolicyView:
    return await svc.attach(caller, ref, project)


@router.delete("/projects/{project}/policies/{ref}", response_model=svc.PolicyView)
async def detach(caller: CallerDep, project: str, ref: str) -> svc.PolicyView:
    return await svc.detach(caller, ref, project)


@router.get("/projects/{project}/policies")
async def project_policies(caller: CallerDep, project: str) -> list[dict[str, Any]]:
    return await svc.project_policies(caller, project)


@router.get("/policies/{ref}/samples", response_model=list[svc.SampleView])
async def samples(
    caller: CallerDep, ref: str, limit: Annotated[int, Query(ge=1, le=100)] = 20
) -> list[svc.SampleView]:
    return await svc.list_samples(caller, ref, limit=limit)


@router.post("/policies/{ref}/simulate", response_model=svc.SimulationResult)
async def simulate(caller: CallerDep, ref: str, body: svc.SimulateRequest) -> svc.SimulationResult:
    return await svc.simulate(caller, ref, body)


@router.post("/policies/simulate", response_model=svc.SimulationResult)
async def simulate_draft(caller: CallerDep, body: svc.SimulateRequest) -> svc.SimulationResult:
    """Try a draft body that is not stored yet."""
    return await svc.simulate(caller, None, body)
