"""MCP tools for projects and their locks."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from mcp.server.mcpserver import Context
from mcp.types import InputRequiredResult, ToolAnnotations
from pydantic import BaseModel, Field

from api.mcp.tools_changes import start_and_follow
from api.services import exports, lifecycle, project_overview
from api.services import projects as svc
from api.services.changes import ChangeSummary

if TYPE_CHECKING:
    from api.context import Caller
    from api.mcp.server import McpEndpoint

__all__ = ["register"]

ProjectRef = Annotated[str, Field(description="Project name or id.", min_length=1)]


def _hints(
    title: str,
    *,
    read_only: bool = False,
    destructive: bool = False,
    idempotent: bool = False,
    open_world: bool = False,
) -> ToolAnnotations:
    return ToolAnnotations(
        title=title,
        read_only_hint=read_only,
        destructive_hint=destructive,
        idempotent_hint=idempotent,
        open_world_hint=open_world,
    )


class ProjectDeletion(BaseModel):
    deleted: bool
    message: str
    change: ChangeSummary | None = Field(
        default=None, description="The change that deleted its resources first, if any"
    )


def register(endpoint: McpEndpoint) -> None:
    server = endpoint.server

    @server.tool(
        name="project-create",
        description="Create a project, in the root space unless you name another space you "
        "may create projects in. Projects scope resources, policies, credentials, history "
        "and the lock.",
        annotations=_hints("Create project"),
    )
    async def project_create(
        name: Annotated[str, Field(pattern=svc.NAME_PATTERN, description="e.g. my-project")],
        ctx: Context,
        description: Annotated[str, Field(max_length=2000)] = "",
        labels: Annotated[list[str] | None, Field(description="Labels for policies")] = None,
        space: Annotated[
            str | None, Field(description="Space name; default root (ask the user)")
        ] = None,
        ttl: Annotated[
            str | None,
            Field(
                description="Optional time to live: a duration (2h, 7d) or a timestamp; at "
                "the end every resource is deleted and the project archived"
            ),
        ] = None,
    ) -> svc.ProjectView:
        body = svc.ProjectCreate(
            name=name, description=description, labels=labels or [], space=space, ttl=ttl
        )
        return await endpoint.call(ctx, lambda c: svc.create_project(c, body))

    @server.tool(
        name="project-list",
        description="List projects with who holds each lock. Paginated: pass next_cursor "
        "back as cursor.",
        annotations=_hints("List projects", read_only=True, idempotent=True),
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
        annotations=_hints("Use (lock) project", idempotent=True),
    )
    async def project_use(project: ProjectRef, ctx: Context) -> svc.UseResult:
        return await endpoint.call(ctx, lambda c: svc.use_project(c, project))

    @server.tool(
        name="project-release",
        description="Release your lock on a project so others can use it.",
        annotations=_hints("Release project lock"),
    )
    async def project_release(project: ProjectRef, ctx: Context) -> svc.UseResult:
        return await endpoint.call(ctx, lambda c: svc.release_project(c, project))

    @server.tool(
        name="project-export",
        description="Export the project as Terraform files to put in a repository: HCL with "
        "pinned providers, references as expressions, sensitive values as variables, import "
        "blocks, a terraform.tfstate and the lock file. Write every returned file into one "
        "directory. Secrets are never included here (an admin may export them with the CLI).",
        annotations=_hints(
            "Export project to Terraform", read_only=True, idempotent=True, open_world=True
        ),
    )
    async def project_export(project: ProjectRef, ctx: Context) -> exports.ExportView:
        return await endpoint.call(ctx, lambda c: exports.export_project(c, project))

    @server.tool(
        name="project-describe",
        description="One project at a glance: lock, space, labels, integrations (credentials "
        "masked), governing policies, provider versions, resource and change counts.",
        annotations=_hints("Describe project", read_only=True, idempotent=True),
    )
    async def project_describe(
        project: ProjectRef, ctx: Context
    ) -> project_overview.ProjectDescription:
        return await endpoint.call(ctx, lambda c: project_overview.describe_project(c, project))

    @server.tool(
        name="project-current",
        description="The project whose lock you hold (what tools act on when no project is "
        "named), described; none when you hold no lock.",
        annotations=_hints("Current project", read_only=True, idempotent=True),
    )
    async def project_current(ctx: Context) -> project_overview.CurrentProject:
        return await endpoint.call(ctx, project_overview.current_project)

    @server.tool(
        name="project-update",
        description="Change a project: description, labels (they decide which policies "
        "auto-attach), space, TTL (a duration or timestamp; 'off' removes it; a later TTL "
        "needs the right to extend TTLs) or drift check interval in seconds (0: off). "
        "Only the fields given change.",
        annotations=_hints("Update project", idempotent=True),
    )
    async def project_update(
        project: ProjectRef,
        ctx: Context,
        description: Annotated[str | None, Field(max_length=2000)] = None,
        labels: list[str] | None = None,
        space: Annotated[str | None, Field(description="Move it to this space")] = None,
        ttl: Annotated[str | None, Field(description="2h, 7d, a timestamp, or off")] = None,
        drift_interval_seconds: Annotated[float | None, Field(ge=0)] = None,
    ) -> svc.ProjectView:
        async def update(caller: Caller) -> svc.ProjectView:
            if description is not None or labels is not None or space is not None:
                body = svc.ProjectUpdate(description=description, labels=labels, space=space)
                await svc.update_project(caller, project, body)
            if ttl is not None:
                await lifecycle.set_ttl(caller, project, ttl)
            if drift_interval_seconds is not None:
                await lifecycle.set_drift_interval(caller, project, drift_interval_seconds)
            return await svc.get_project(caller, project)

        return await endpoint.call(ctx, update)

    @server.tool(
        name="project-delete",
        description="Delete a project. Refused while it manages resources, unless "
        "destroy_resources is true: then one change deletes them all first (it waits for "
        "the user's confirmation like any delete) and the project goes once it is applied.",
        annotations=_hints("Delete project", destructive=True, open_world=True),
    )
    async def project_delete(
        project: ProjectRef, ctx: Context, destroy_resources: bool = False
    ) -> ProjectDeletion | InputRequiredResult:
        change = None
        if destroy_resources:
            followed = await start_and_follow(
                endpoint, ctx, lambda c: lifecycle.destroy_resources(c, project)
            )
            if isinstance(followed, InputRequiredResult):
                return followed
            change = followed
            if change is not None and change.status != "applied":
                return ProjectDeletion(
                    deleted=False,
                    change=change,
                    message=f"project {project} stays: the change deleting its resources is "
                    f"{change.status}. Once it is applied, call project-delete again.",
                )
        await endpoint.call(ctx, lambda c: svc.delete_project(c, project))
        return ProjectDeletion(deleted=True, change=change, message=f"project {project} is deleted")
