"""REST: provider questions (search, schema views, data source reads)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from api.deps import CallerDep
from api.services import providers as svc
from api.services.providers import (
    ProviderLockView,
    list_provider_locks,
    lookup,
    update_provider_lock,
)
from workflows.lookup import LookupInput

router = APIRouter(tags=["providers"])


class ProviderLockUpdate(BaseModel):
    provider: str
    version: str | None = None


class DataSourceRead(BaseModel):
    project: str
    data_source: str
    config: dict[str, Any] = {}
    provider: str | None = None
    version: str | None = None


@router.get("/providers/search")
async def search(
    caller: CallerDep, q: str, limit: Annotated[int, Query(ge=1, le=50)] = 10
) -> dict[str, Any]:
    return await lookup(caller, LookupInput(kind="search", query=q, limit=limit))


@router.get("/providers/{namespace}/{name}")
async def describe(
    caller: CallerDep,
    namespace: str,
    name: str,
    version: str | None = None,
    filter: str = "",
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: str | None = None,
) -> dict[str, Any]:
    return await lookup(
        caller,
        LookupInput(
            kind="provider",
            provider=f"{namespace}/{name}",
            version=version,
            query=filter,
            limit=limit,
            cursor=cursor,
        ),
    )


@router.get("/providers/{namespace}/{name}/resources")
async def describe_resources(
    caller: CallerDep,
    namespace: str,
    name: str,
    types: Annotated[list[str], Query(min_length=1)],
    version: str | None = None,
) -> dict[str, Any]:
    return await lookup(
        caller,
        LookupInput(kind="resources", provider=f"{namespace}/{name}", version=version, types=types),
    )


@router.get("/providers/{namespace}/{name}/data-sources")
async def describe_data_sources(
    caller: CallerDep,
    namespace: str,
    name: str,
    types: Annotated[list[str], Query(min_length=1)],
    version: str | None = None,
) -> dict[str, Any]:
    return await lookup(
        caller,
        LookupInput(
            kind="data_sources", provider=f"{namespace}/{name}", version=version, types=types
        ),
    )


@router.post("/providers/data-sources/read")
async def read_data_source(caller: CallerDep, body: DataSourceRead) -> dict[str, Any]:
    return await svc.read_data_source(
        caller,
        body.project,
        body.data_source,
        provider=body.provider,
        version=body.version,
        config=body.config,
    )


@router.get("/projects/{ref}/provider-locks")
async def provider_locks(caller: CallerDep, ref: str) -> list[ProviderLockView]:
    """Which provider packages (version and hashes) the project's changes may run."""
    return await list_provider_locks(caller, ref)


@router.post("/projects/{ref}/provider-locks")
async def update_lock(caller: CallerDep, ref: str, body: ProviderLockUpdate) -> ProviderLockView:
    """Admins: re-record a provider's entry from the package installed now (history
    keeps the old and new hashes)."""
    return await update_provider_lock(caller, ref, body.provider, body.version)
