"""REST: who am I, and what may I do where?"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from api.deps import CallerDep
from workflows.actor import Via

router = APIRouter(tags=["identity"])


class GrantView(BaseModel):
    space: str
    role: str
    via: str


class MeView(BaseModel):
    id: str
    name: str
    via: Via
    scopes: list[str]
    roles: list[str]
    grants: list[GrantView]
    space_limit: str | None


@router.get("/me", response_model=MeView)
async def me(caller: CallerDep) -> MeView:
    principal = caller.principal
    return MeView(
        id=principal.id,
        name=principal.name,
        via=caller.via,
        scopes=list(principal.scopes),
        roles=caller.actor.roles,
        grants=[GrantView(space=g.space, role=g.role, via=g.via) for g in principal.grants],
        space_limit=principal.space_limit,
    )
