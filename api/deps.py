"""FastAPI dependencies, as ``Annotated`` aliases routers declare in their signatures."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request, status

from access.models import Principal
from api.auth import (
    AuthFailure,
    Via,
    authenticate,
    bearer_token,
    challenge,
    request_resource,
)
from api.context import AppContext, Caller

__all__ = ["AppDep", "CallerDep", "PrincipalDep"]


def get_app_context(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.intent
    return ctx


AppDep = Annotated[AppContext, Depends(get_app_context)]


async def get_principal(request: Request, app: AppDep) -> Principal:
    token = bearer_token(request.headers.get("authorization"))
    resource, metadata = request_resource(app.settings, request.scope)
    try:
        return await authenticate(app.db, token, resource)
    except AuthFailure as failure:
        header = challenge(failure.error, metadata_url=metadata, description=failure.description)
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail=failure.description,
            headers={"WWW-Authenticate": header.encode("latin-1", "replace").decode("latin-1")},
        ) from None


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def get_caller(request: Request, app: AppDep, principal: PrincipalDep) -> Caller:
    # The CLI says so; anything else calling the REST API is "api". (The header only
    # labels the door in history; it grants nothing.)
    via: Via = "cli" if request.headers.get("x-intent-via") == "cli" else "api"
    return Caller(app=app, principal=principal, via=via)


CallerDep = Annotated[Caller, Depends(get_caller)]
