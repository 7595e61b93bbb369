"""REST: /api/v1/keys, API keys for scripts and CI (yours; admins see everyone's)."""

from __future__ import annotations

from fastapi import APIRouter, status

from api.deps import CallerDep
from api.services import keys as svc

router = APIRouter(prefix="/keys", tags=["identity"])


@router.get("", response_model=list[svc.KeyView])
async def list_keys(caller: CallerDep, everyone: bool = False) -> list[svc.KeyView]:
    return await svc.list_keys(caller, everyone=everyone)


@router.post("", response_model=svc.KeyCreated, status_code=status.HTTP_201_CREATED)
async def create_key(caller: CallerDep, body: svc.KeyCreate) -> svc.KeyCreated:
    """The response holds the key itself, once; only its hash is kept."""
    return await svc.create_key(caller, body)


@router.delete("/{ref}", response_model=svc.KeyView)
async def revoke_key(caller: CallerDep, ref: str) -> svc.KeyView:
    return await svc.revoke_key(caller, ref)
