"""REST: who am I, what may I do where, and which project am I working in?"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from api.deps import CallerDep
from api.services import project_overview
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


@router.get("/me/project", response_model=project_overview.CurrentProject)
async def current_project(caller: CallerDep) -> project_overview.CurrentProject:
    """The project whose lock you hold (what tools act on when no project is named)."""
    return await project_overview.current_project(caller)
