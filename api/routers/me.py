"""REST: who am I?"""

from __future__ import annotations

from fastapi import APIRouter

from api.auth import Actor
from api.deps import ActorDep

router = APIRouter(tags=["identity"])


@router.get("/me", response_model=Actor)
async def me(actor: ActorDep) -> Actor:
    return actor
