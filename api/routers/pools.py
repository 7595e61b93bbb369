"""REST: worker pools (where a project's provider work runs)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.deps import CallerDep
from api.services import pools as svc

router = APIRouter(tags=["pools"])


class PoolPut(BaseModel):
    pool: str | None = Field(default=None, description="The pool's name; null: the default workers")


@router.get("/pools", response_model=list[svc.PoolView])
async def list_pools(caller: CallerDep) -> list[svc.PoolView]:
    """Pools the caller's projects name, with how many workers serve each now."""
    return await svc.list_pools(caller)


@router.put("/projects/{ref}/pool", response_model=PoolPut)
async def set_pool(caller: CallerDep, ref: str, body: PoolPut) -> PoolPut:
    """Space admins: run the project's provider work on a worker pool."""
    return PoolPut(pool=await svc.set_pool(caller, ref, body.pool))
