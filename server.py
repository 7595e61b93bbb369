"""The server entry point: the FastAPI app with the REST API, the MCP endpoint and the UI.

Stateless by design: it authenticates, validates, starts or signals workflows and reads
the database. It never talks to a provider itself, so any number can run side by side.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from authlib.oauth2.rfc6749 import OAuth2Error
from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.routing import Route
from temporalio.client import Client

from api.arguments import argument_problems
from api.context import AppContext, TemporalConnector
from api.errors import IntentError, Invalid
from api.mcp.server import build_mcp
from api.oauth import login, upstream
from api.oauth import routes as oauth_routes
from api.routers import (
    audit,
    changes,
    environments,
    health,
    history,
    integrations,
    keys,
    me,
    metrics,
    policies,
    pools,
    projects,
    providers,
    resources,
    roles,
    spaces,
    users,
)
from api.ui import routes as ui
from api.urls import MCP_PATHS
from observability.http import ObservedHTTP
from observability.metrics import server_metrics
from settings import Settings, get_settings
from store.db import Database

__all__ = ["MCP_PATHS", "create_app"]

log = logging.getLogger(__name__)


def create_app(
    settings: Settings | None = None,
    *,
    db: Database | None = None,
    temporal: Client | None = None,
    migrate: bool = True,
) -> FastAPI:
    settings = settings or get_settings()
    database = db or Database(settings.resolved_database_url)
    app_ctx = AppContext(
        settings=settings, db=database, temporal=TemporalConnector(settings, temporal)
    )
    # The server seals what it stores (change requests, integration credentials) but
    # never needs to read those in the clear: only the worker opens them.
    database.use_secrets(app_ctx.box, may_open=False)
    mcp = build_mcp(app_ctx)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if migrate:
            await database.migrate()
        async with mcp.session_manager.run():
            yield
        if db is None:
            await database.dispose()

    app = FastAPI(
        title="intent",
        version="0.1.0",
        description="Provision and manage cloud infrastructure from your AI client, under "
        "policy, with state, history and locks.",
        lifespan=lifespan,
    )
    app.state.intent = app_ctx
    app.state.intent_mcp = mcp

    @app.exception_handler(IntentError)
    async def _intent_error(_: Request, exc: IntentError) -> JSONResponse:
        return JSONResponse(exc.to_dict(), status_code=exc.status_code)

    @app.exception_handler(OAuth2Error)
    async def _oauth_error(_: Request, exc: OAuth2Error) -> JSONResponse:
        body = {"error": exc.error, "error_description": exc.description}
        return JSONResponse(body, status_code=exc.status_code or 400)

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        # The caller's terms: which field, what is wrong; never the rejected value
        # (it may be a secret) nor pydantic's internals.
        problems = argument_problems(exc.errors(), skip=("body", "query", "path", "header"))
        listed = "; ".join(f"{p['argument']} {p['problem']}" for p in problems)
        body = Invalid(f"invalid request: {listed}", details={"problems": problems}).to_dict()
        return JSONResponse(body, status_code=422)

    api = APIRouter(prefix="/api/v1")
    for router in (
        projects.router,
        resources.router,
        changes.router,
        environments.router,
        integrations.router,
        pools.router,
        providers.router,
        policies.router,
        history.router,
        me.router,
        keys.router,
        users.router,
        audit.router,
        spaces.router,
        roles.router,
    ):
        api.include_router(router)
    app.include_router(api)
    app.include_router(health.router)
    app.include_router(metrics.router)
    app.include_router(oauth_routes.router)
    app.include_router(login.router)
    app.include_router(upstream.router)
    for path in MCP_PATHS:
        app.router.routes.append(Route(path, endpoint=mcp.asgi))
    ui.install(app, app_ctx)
    app.add_middleware(ObservedHTTP, metrics=server_metrics())
    return app
