"""MCP tools for cloud integrations: list, attach to the project, detach.

Creating integrations (which IAM roles intent may assume) is for those who manage
them, through the web UI, the REST API or the CLI; an AI client only attaches what
exists, with the region and the Read / Write switches the user asks for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from mcp.server.mcpserver import Context
from mcp.types import ToolAnnotations
from pydantic import BaseModel, Field

from api.context import Caller
from api.services import integrations as svc
from api.services.changes import current_project
from store import projects as store_projects

if TYPE_CHECKING:
    from api.mcp.server import McpEndpoint

__all__ = ["register"]

ProjectOpt = Annotated[
    str | None,
    Field(description="Project name or id; default: the project whose lock you hold."),
]
IntegrationRef = Annotated[str, Field(description="Integration name or id (integration-list)")]


class IntegrationList(BaseModel):
    project: str | None = Field(description="The project the lists are for, if any")
    attached: list[svc.AttachmentView] = Field(description="Attached to the project")
    available: list[svc.IntegrationView] = Field(
        description="Integrations you may see (that the project may attach, when one is given)"
    )


async def _listing(caller: Caller, project: str | None) -> IntegrationList:
    if project is None:
        async with caller.db.session() as session:
            held = await store_projects.projects_locked_by(session, caller.actor.id)
        if not held:  # no project in hand: everything the caller may see
            everything = await svc.list_integrations(caller)
            return IntegrationList(project=None, attached=[], available=everything)
    found = await current_project(caller, project)
    return IntegrationList(
        project=found.name,
        attached=await svc.list_attachments(caller, found.id),
        available=await svc.attachable(caller, found.id),
    )


def register(endpoint: McpEndpoint) -> None:
    server = endpoint.server

    @server.tool(
        name="integration-list",
        description="Cloud integrations: those attached to the project (region, Read, Write, "
        "account) and those it could attach. AWS resources need an attached AWS "
        "integration: intent assumes its IAM roles for each change.",
        annotations=ToolAnnotations(
            title="List integrations",
            read_only_hint=True,
            destructive_hint=False,
            idempotent_hint=True,
            open_world_hint=False,
        ),
    )
    async def integration_list(ctx: Context, project: ProjectOpt = None) -> IntegrationList:
        return await endpoint.call(ctx, lambda c: _listing(c, project))

    @server.tool(
        name="integration-attach",
        description="Attach a cloud integration to the project (or change its region or "
        "switches): Read lets changes plan, refresh, import and read data sources; Write "
        "lets them apply. Ask the user for the region and whether to enable Write. "
        "Replaces the integration the project used for the same provider.",
        annotations=ToolAnnotations(
            title="Attach integration",
            read_only_hint=False,
            destructive_hint=False,
            idempotent_hint=True,
            open_world_hint=False,
        ),
    )
    async def integration_attach(
        integration: IntegrationRef,
        ctx: Context,
        project: ProjectOpt = None,
        region: Annotated[
            str | None, Field(description="e.g. eu-west-1; default the integration's region")
        ] = None,
        read: bool = True,
        write: bool = False,
        relocate: Annotated[
            bool,
            Field(
                description="Only when the user confirms the project's existing resources "
                "really are in the new account or region"
            ),
        ] = False,
    ) -> svc.AttachmentView:
        body = svc.AttachmentPut(region=region, read=read, write=write, relocate=relocate)

        async def run(c: Caller) -> svc.AttachmentView:
            found = await current_project(c, project)
            return await svc.attach(c, found.id, integration, body)

        return await endpoint.call(ctx, run)

    @server.tool(
        name="integration-detach",
        description="Detach a cloud integration from the project: its changes can no longer "
        "reach that cloud account.",
        annotations=ToolAnnotations(
            title="Detach integration",
            read_only_hint=False,
            destructive_hint=True,
            idempotent_hint=False,
            open_world_hint=False,
        ),
    )
    async def integration_detach(
        integration: IntegrationRef, ctx: Context, project: ProjectOpt = None
    ) -> svc.AttachmentList:
        async def run(c: Caller) -> svc.AttachmentList:
            found = await current_project(c, project)
            await svc.detach(c, found.id, integration)
            return svc.AttachmentList(attached=await svc.list_attachments(c, found.id))

        return await endpoint.call(ctx, run)
