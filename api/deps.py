"""FastAPI dependencies, as ``Annotated`` aliases routers declare in their signatures."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request, status

from api.auth import Actor, Via, authenticate, bearer_token, challenge, refusal
from api.context import AppContext, Caller

__all__ = ["ActorDep", "AppDep", "CallerDep"]


def get_app_context(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.intent
    return ctx


AppDep = Annotated[AppContext, Depends(get_app_context)]


async def get_actor(request: Request, app: AppDep) -> Actor:
    token = bearer_token(request.headers.get("authorization"))
    # The CLI says so; anything else calling the REST API is "api". (The header only
    # labels the door in history; it grants nothing.)
    via: Via = "cli" if request.headers.get("x-intent-via") == "cli" else "api"
    actor = await authenticate(app.db, token, via)
    if actor is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail=refusal(token),
            headers={"WWW-Authenticate": challenge("invalid_token" if token else None)},
        )
    return actor


ActorDep = Annotated[Actor, Depends(get_actor)]


def get_caller(app: AppDep, actor: ActorDep) -> Caller:
    return Caller(app=app, actor=actor)


CallerDep = Annotated[Caller, Depends(get_caller)]
