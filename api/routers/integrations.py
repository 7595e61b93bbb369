"""REST: cloud integrations (objects in a space) and their attachments to projects."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from api.deps import CallerDep
from api.services import integrations as svc

router = APIRouter(tags=["integrations"])


@router.get("/integrations", response_model=list[svc.IntegrationView])
async def list_integrations(
    caller: CallerDep, space: str | None = None
) -> list[svc.IntegrationView]:
    return await svc.list_integrations(caller, space)


@router.post(
    "/integrations", response_model=svc.IntegrationView, status_code=status.HTTP_201_CREATED
)
async def create_integration(caller: CallerDep, body: svc.IntegrationCreate) -> svc.IntegrationView:
    return await svc.create_integration(caller, body)


@router.get("/integrations/{ref}", response_model=svc.IntegrationView)
async def get_integration(caller: CallerDep, ref: str) -> svc.IntegrationView:
    return await svc.get_integration(caller, ref)


@router.patch("/integrations/{ref}", response_model=svc.IntegrationView)
async def update_integration(
    caller: CallerDep, ref: str, body: svc.IntegrationUpdate
) -> svc.IntegrationView:
    return await svc.update_integration(caller, ref, body)


@router.delete("/integrations/{ref}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_integration(caller: CallerDep, ref: str) -> Response:
    await svc.delete_integration(caller, ref)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/projects/{project}/integrations", response_model=list[svc.AttachmentView])
async def list_attachments(caller: CallerDep, project: str) -> list[svc.AttachmentView]:
    return await svc.list_attachments(caller, project)


@router.put("/projects/{project}/integrations/{ref}", response_model=svc.AttachmentView)
async def attach(
    caller: CallerDep, project: str, ref: str, body: svc.AttachmentPut
) -> svc.AttachmentView:
    return await svc.attach(caller, project, ref, body)


@router.delete("/projects/{project}/integrations/{ref}", status_code=status.HTTP_204_NO_CONTENT)
async def detach(caller: CallerDep, project: str, ref: str) -> Response:
    await svc.detach(caller, project, ref)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
