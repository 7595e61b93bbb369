"""MCP tools for projects and their locks."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from mcp.server.mcpserver import Context
from mcp.types import ToolAnnotations
from pydantic import Field

from api.services import exports, project_overview
from api.services import projects as svc

if TYPE_CHECKING:
    from api.mcp.server import McpEndpoint

__all__ = ["register"]

ProjectRef = Annotated[str, Field(description="Project name or id.", min_length=1)]


def register(endpoint: McpEndpoint) -> None:
    server = endpoint.server

    @server.tool(
        name="project-create",
        description="Create a project (in the root space). Projects scope resources, "
        "policies, credentials, history and the lock.",
        annotations=ToolAnnotations(
            title="Create project",
            read_only_hint=False,
            destructive_hint=False,
            idempotent_hint=False,
            open_world_hint=False,
        ),
    )
    async def project_create(
        name: Annotated[str, Field(pattern=svc.NAME_PATTERN, description="e.g. my-project")],
        ctx: Context,
        description: Annotated[str, Field(max_length=2000)] = "",
        labels: Annotated[list[str] | None, Field(description="Labels for policies")] = None,
        ttl: Annotated[
            str | None,
            Field(
                description="Optional time to live: a duration (2h, 7d) or a timestamp; at "
                "the end every resource is deleted and the project archived"
            ),
        ] = None,
    ) -> svc.ProjectView:
        body = svc.ProjectCreate(name=name, description=description, labels=labels or [], ttl=ttl)
        return await endpoint.call(ctx, lambda c: svc.create_project(c, body))

    @server.tool(
        name="project-list",
        description="List projects with who holds each lock. Paginated: pass next_cursor "
        "back as cursor.",
        annotations=ToolAnnotations(
            title="List projects",
            read_only_hint=True,
            destructive_hint=False,
            idempotent_hint=True,
            open_world_hint=False,
        ),
    )
    async def project_list(
        ctx: Context,
        limit: Annotated[int, Field(ge=1, le=200)] = 50,
        cursor: str | None = None,
    ) -> svc.ProjectList:
        return await endpoint.call(ctx, lambda c: svc.list_projects(c, limit=limit, cursor=cursor))

    @server.tool(
        name="project-use",
        description="Lock a project for this user so changes can be made in it. Fails, "
        "naming the holder and expiry, if someone else holds the lock.",
        annotations=ToolAnnotations(
            title="Use (lock) project",
            read_only_hint=False,
            destructive_hint=False,
            idempotent_hint=True,
            open_world_hint=False,
        ),
    )
    async def project_use(project: ProjectRef, ctx: Context) -> svc.UseResult:
        return await endpoint.call(ctx, lambda c: svc.use_project(c, project))

    @server.tool(
        name="project-release",
        description="Release your lock on a project so others can use it.",
        annotations=ToolAnnotations(
            title="Release project lock",
            read_only_hint=False,
            destructive_hint=False,
            idempotent_hint=False,
            open_world_hint=False,
        ),
    )
    async def project_release(project: ProjectRef, ctx: Context) -> svc.UseResult:
        return await endpoint.call(ctx, lambda c: svc.release_project(c, project))

    @server.tool(
        name="project-export",
        description="Export the project as Terraform files to put in a repository: HCL with "
        "pinned providers, references as expressions, sensitive values as variables, import "
        "blocks, a terraform.tfstate and the lock file. Write every returned file into one "
        "directory. Secrets are never included here (an admin may export them with the CLI).",
        annotations=ToolAnnotations(
            title="Export project to Terraform",
            read_only_hint=True,
            destructive_hint=False,
            idempotent_hint=True,
            open_world_hint=True,
        ),
    )
    async def project_export(project: ProjectRef, ctx: Context) -> exports.ExportView:
        return await endpoint.call(ctx, lambda c: exports.export_project(c, project))

    @server.tool(
        name="project-describe",
        description="One project at a glance: lock, space, labels, integrations (credentials "
        "masked), governing policies, provider versions, resource and change counts.",
        annotations=ToolAnnotations(
            title="Describe project",
            read_only_hint=True,
            destructive_hint=False,
            idempotent_hint=True,
            open_world_hint=False,
        ),
    )
    async def project_describe(
        project: ProjectRef, ctx: Context
    ) -> project_overview.ProjectDescription:
        return await endpoint.call(ctx, lambda c: project_overview.describe_project(c, project))

    @server.tool(
        name="project-current",
        description="The project whose lock you hold (what tools act on when no project is "
        "named), described; none when you hold no lock.",
        annotations=ToolAnnotations(
            title="Current project",
            read_only_hint=True,
            destructive_hint=False,
            idempotent_hint=True,
            open_world_hint=False,
        ),
    )
    async def project_current(ctx: Context) -> project_overview.CurrentProject:
        return await endpoint.call(ctx, project_overview.current_project)
