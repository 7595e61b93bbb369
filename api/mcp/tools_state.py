"""MCP tools over the project's state, history and dependencies (no provider calls)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

from mcp.server.mcpserver import Context
from mcp.types import ToolAnnotations
from pydantic import BaseModel, Field

from api.services import history as history_svc
from api.services import resources as svc

if TYPE_CHECKING:
    from api.mcp.server import McpEndpoint

__all__ = ["register"]

ProjectOpt = Annotated[
    str | None,
    Field(description="Project name or id; default: the project whose lock you hold."),
]
Limit = Annotated[int, Field(ge=1, le=200)]

_READ = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)
_WRITE = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)


class HistoryItem(BaseModel):
    at: datetime
    what: str = Field(description="subject operation, e.g. resource create")
    status: str
    actor: str
    via: str
    resource: str | None = None
    change_id: str | None = None
    reasons: list[str] = Field(default_factory=list)
    changes: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Attribute by attribute: {attribute, before, after}; secrets redacted",
    )
    details: dict[str, Any] = Field(default_factory=dict)


class HistoryList(BaseModel):
    project: str
    entries: list[HistoryItem]
    next_cursor: str | None = None


def register(endpoint: McpEndpoint) -> None:
    server = endpoint.server

    @server.tool(
        name="state-list",
        description="Resources intent manages in the project (paginated).",
        annotations=_READ,
    )
    async def state_list(
        ctx: Context,
        project: ProjectOpt = None,
        resource_type: str | None = None,
        limit: Limit = 50,
        cursor: str | None = None,
    ) -> svc.ResourceList:
        return await endpoint.call(
            ctx,
            lambda c: svc.list_resources(
                c, project, resource_type=resource_type, limit=limit, cursor=cursor
            ),
        )

    @server.tool(
        name="state-get",
        description="One resource's config and current state (sensitive values masked).",
        annotations=_READ,
    )
    async def state_get(
        resource_id: str, ctx: Context, project: ProjectOpt = None
    ) -> svc.ResourceDetail:
        return await endpoint.call(ctx, lambda c: svc.get_resource(c, project, resource_id))

    @server.tool(
        name="state-eject",
        description="Stop managing a resource without deleting it in the cloud.",
        annotations=ToolAnnotations(
            read_only_hint=False,
            destructive_hint=True,
            idempotent_hint=False,
            open_world_hint=False,
        ),
    )
    async def state_eject(
        resource_id: str, ctx: Context, project: ProjectOpt = None
    ) -> svc.ResourceSummary:
        return await endpoint.call(ctx, lambda c: svc.eject(c, project, resource_id))

    @server.tool(
        name="history-list",
        description="The project's history, newest first: every attempt with actor and "
        "outcome; applied operations list the attributes they changed (before/after).",
        annotations=_READ,
    )
    async def history_list(
        ctx: Context,
        project: ProjectOpt = None,
        resource_id: str | None = None,
        change_id: str | None = None,
        limit: Limit = 20,
        cursor: str | None = None,
    ) -> HistoryList:
        page = await endpoint.call(
            ctx,
            lambda c: history_svc.project_history(
                c, project, resource_id=resource_id, change_id=change_id, limit=limit, cursor=cursor
            ),
        )
        return HistoryList(
            project=page.project,
            entries=[
                HistoryItem(
                    at=e.created_at,
                    what=f"{e.subject} {e.operation}",
                    status=e.status,
                    actor=e.actor,
                    via=e.via,
                    resource=e.resource_id,
                    change_id=e.change_id,
                    reasons=e.reasons,
                    changes=e.changes,
                    details={
                        k: v
                        for k, v in e.details.items()
                        if k in ("action", "decided_by", "replace_paths")
                    },
                )
                for e in page.entries
            ],
            next_cursor=page.next_cursor,
        )

    @server.tool(
        name="dependencies-get",
        description="What a resource depends on and what depends on it.",
        annotations=_READ,
    )
    async def dependencies_get(
        resource_id: str, ctx: Context, project: ProjectOpt = None
    ) -> svc.DependencyView:
        return await endpoint.call(ctx, lambda c: svc.get_dependencies(c, project, resource_id))

    @server.tool(
        name="dependencies-add",
        description="Declare that a resource depends on others (orders applies and deletes).",
        annotations=_WRITE,
    )
    async def dependencies_add(
        resource_id: str,
        depends_on: Annotated[list[str], Field(min_length=1)],
        ctx: Context,
        project: ProjectOpt = None,
    ) -> svc.DependencyView:
        return await endpoint.call(
            ctx, lambda c: svc.add_dependencies(c, project, resource_id, depends_on)
        )

    @server.tool(
        name="dependencies-remove",
        description="Remove declared dependencies of a resource.",
        annotations=_WRITE,
    )
    async def dependencies_remove(
        resource_id: str,
        depends_on: Annotated[list[str], Field(min_length=1)],
        ctx: Context,
        project: ProjectOpt = None,
    ) -> svc.DependencyView:
        return await endpoint.call(
            ctx, lambda c: svc.remove_dependencies(c, project, resource_id, depends_on)
        )
