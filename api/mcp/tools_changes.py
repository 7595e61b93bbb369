"""MCP tools that change resources, plus following and deciding on changes.

A change tool submits a ChangeWorkflow and follows it, sending progress notifications,
until it settles. When it waits for a human and the client supports elicitation, the
user is asked directly — the model cannot answer for them; otherwise the result names
the change id and every way to confirm.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Any

from mcp.server.elicitation import render_elicitation_schema
from mcp.server.mcpserver import Context
from mcp.types import (
    ElicitRequest,
    ElicitRequestFormParams,
    ElicitResult,
    InputRequiredResult,
    ToolAnnotations,
)
from mcp_types.version import is_version_at_least
from pydantic import BaseModel, Field

from api.context import Caller
from api.services import changes as svc
from api.services import projects as project_svc
from api.services import rollback
from api.services.access import path_of
from api.services.changes import ChangeSummary, OperationInput
from workflows.change import decision_refusal
from workflows.models import ChangeView
from workflows.references import RESOURCE_ID_PATTERN

if TYPE_CHECKING:
    from api.mcp.server import McpEndpoint

__all__ = ["register"]

log = logging.getLogger(__name__)

ProjectOpt = Annotated[
    str | None,
    Field(description="Project name or id; default: the project whose lock you hold."),
]
ChangeId = Annotated[str, Field(description="The change_id a change tool returned.")]
ResourceIdList = Annotated[list[str], Field(min_length=1, max_length=100)]
RegionOpt = Annotated[
    str | None,
    Field(
        description="The cloud region the user asked for, if they named one (e.g. "
        "eu-west-1): intent refuses the change when the project's integration acts in "
        "another region instead of creating it elsewhere"
    ),
]


class NewResource(BaseModel):
    resource_id: str = Field(pattern=RESOURCE_ID_PATTERN, description="Your name for it")
    resource_type: str = Field(description="e.g. aws_s3_bucket")
    config: dict[str, Any] = Field(
        description='Attributes and blocks; reference others as "${other_id.attribute}"'
    )
    provider: str | None = Field(default=None, description="e.g. hashicorp/aws (implied)")
    version: str | None = Field(default=None, description="constraint, e.g. ~> 5.0")
    depends_on: list[str] = Field(default_factory=list)


class ResourcePatch(BaseModel):
    resource_id: str
    config: dict[str, Any] = Field(
        description="Merged over the stored config; a key set to null removes it"
    )


class ImportedResource(BaseModel):
    resource_id: str = Field(pattern=RESOURCE_ID_PATTERN)
    resource_type: str
    import_id: str = Field(description="The provider's id, e.g. a bucket or parameter name")
    config: dict[str, Any] | None = Field(
        default=None, description="Optional; derived from the imported object if omitted"
    )
    provider: str | None = None
    version: str | None = None


class ConfirmChange(BaseModel):
    """What the user is asked when a change waits for confirmation."""

    confirm: bool = Field(description="Apply this change now?")
    comment: str = Field(default="", description="Optional note kept in the history")


_CONFIRM_KEY = "confirm"

_CHANGE = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=True
)
_DESTRUCTIVE = ToolAnnotations(
    read_only_hint=False, destructive_hint=True, idempotent_hint=False, open_world_hint=True
)
_READ = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)


async def _may_decide(caller: Caller, view: ChangeView) -> bool:
    """Whether the permission rules let this caller confirm: only then ask them."""
    review = any(op.status == "pending_review" for op in view.operations)
    actor = caller.actor_in(await path_of(caller, view.project.space))
    return decision_refusal(actor, view.actor, "confirm", view.change_id, review=review) is None


def _question(view: ChangeView) -> str:
    lines = [f"intent change {view.change_id} in project {view.project.name} needs you:"]
    lines += [f"- {reason}" for reason in view.waiting_for]
    for planned in view.plan:
        if planned.action in ("delete", "replace"):
            why = (
                f" (because {', '.join(planned.replace_paths)} changed)"
                if planned.replace_paths
                else ""
            )
            lines.append(f"{planned.action}: {planned.resource_type}.{planned.resource_id}{why}")
    lines.append("Apply it?")
    return "\n".join(lines)


def _modern(ctx: Context) -> bool:
    """2026-07-28+ connections ask the user through ``InputRequiredResult`` rounds."""
    version = ctx.protocol_version
    return bool(version) and is_version_at_least(str(version), "2026-07-28")


async def _can_elicit(ctx: Context, caller: Caller, view: ChangeView) -> bool:
    capabilities = ctx.client_capabilities
    return (
        view.status == "awaiting_confirmation"
        and capabilities is not None
        and capabilities.elicitation is not None
        and await _may_decide(caller, view)
    )


async def _decide(
    endpoint: McpEndpoint, ctx: Context, change_id: str, action: str, data: dict[str, Any] | None
) -> None:
    """Apply the user's answer: accept+confirm confirms; accept+no or decline rejects."""
    if action == "cancel":
        return  # dismissed: the change keeps waiting for the other ways to confirm
    answer = ConfirmChange.model_validate(data or {"confirm": False})
    if action == "accept" and answer.confirm:
        comment = answer.comment or "confirmed by the user (elicitation)"
        await endpoint.call(ctx, lambda c: svc.confirm(c, change_id, comment))
    else:
        comment = answer.comment or "declined by the user (elicitation)"
        await endpoint.call(ctx, lambda c: svc.reject(c, change_id, comment))


async def _wait(endpoint: McpEndpoint, ctx: Context, change_id: str) -> ChangeView:
    seconds = endpoint.app_ctx.settings.mcp_wait_seconds

    async def progress(view: ChangeView) -> None:
        done = sum(op.status in ("applied", "failed", "blocked") for op in view.operations)
        try:
            await ctx.report_progress(done, len(view.operations), view.status)
        except Exception:  # progress is best effort; the result still arrives
            log.debug("progress notification failed", exc_info=True)

    return await endpoint.call(
        ctx, lambda c: svc.wait(c, change_id, seconds=seconds, on_progress=progress)
    )


async def follow(
    endpoint: McpEndpoint, ctx: Context, change_id: str
) -> ChangeSummary | InputRequiredResult:
    """Follow a change until it settles, asking the user when it waits for them.

    Handshake-era clients get an ``elicitation/create`` request mid-call; 2026-07-28
    clients get an ``InputRequiredResult`` and retry the same tool with the answer
    (the change id rides the sealed ``request_state``, so no second change starts).
    """
    caller = endpoint.caller(ctx)
    view = await _wait(endpoint, ctx, change_id)
    if await _can_elicit(ctx, caller, view):
        if _modern(ctx):
            return InputRequiredResult(
                input_requests={
                    _CONFIRM_KEY: ElicitRequest(
                        params=ElicitRequestFormParams(
                            message=_question(view),
                            requested_schema=render_elicitation_schema(ConfirmChange),
                        )
                    )
                },
                request_state=change_id,
            )
        try:
            answer = await ctx.elicit(_question(view), schema=ConfirmChange)
        except Exception:
            log.info("elicitation failed for change %s", change_id, exc_info=True)
        else:
            data = answer.data.model_dump() if answer.action == "accept" else None
            await _decide(endpoint, ctx, change_id, answer.action, data)
            if answer.action != "cancel":
                view = await _wait(endpoint, ctx, change_id)
    summary = svc.summarize(view, endpoint.app_ctx.settings.base_url)
    summary.warnings = await project_svc.project_warnings(caller, view.project.id)
    return summary


async def _resumed(endpoint: McpEndpoint, ctx: Context) -> str | None:
    """On a 2026-07-28 retry: apply the user's answer and return the change id."""
    change_id = ctx.request_state
    if not change_id:
        return None
    response = (ctx.input_responses or {}).get(_CONFIRM_KEY)
    if isinstance(response, ElicitResult):
        await _decide(endpoint, ctx, change_id, response.action, response.content)
    return change_id


async def start_and_follow(
    endpoint: McpEndpoint,
    ctx: Context,
    start: Callable[[Caller], Awaitable[str | None]],
) -> ChangeSummary | InputRequiredResult | None:
    """Start a change with ``start`` (unless this call resumes one with the user's
    answer) and follow it; None when ``start`` had nothing to change."""
    change_id = await _resumed(endpoint, ctx)
    if change_id is None:
        change_id = await endpoint.call(ctx, start)
    if change_id is None:
        return None
    return await follow(endpoint, ctx, change_id)


async def submit_and_follow(
    endpoint: McpEndpoint,
    ctx: Context,
    project: str | None,
    operations: list[OperationInput],
    *,
    dry_run: bool = False,
    region: str | None = None,
) -> ChangeSummary | InputRequiredResult:
    followed = await start_and_follow(
        endpoint,
        ctx,
        lambda c: svc.submit(c, project, operations, dry_run=dry_run, region=region),
    )
    assert followed is not None  # submit always starts a change
    return followed


def register(endpoint: McpEndpoint) -> None:
    server = endpoint.server

    @server.tool(
        name="resource-plan",
        description="Dry run: plan operations (create/update/delete/import/refresh) and check "
        "policies. Shows the diff, replacements and the policy verdict; applies nothing.",
        annotations=ToolAnnotations(
            read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=True
        ),
    )
    async def resource_plan(
        operations: Annotated[list[OperationInput], Field(min_length=1, max_length=100)],
        ctx: Context,
        project: ProjectOpt = None,
        region: RegionOpt = None,
    ) -> ChangeSummary | InputRequiredResult:
        return await submit_and_follow(
            endpoint, ctx, project, operations, dry_run=True, region=region
        )

    @server.tool(
        name="lifecycle-resources-create",
        description="Create resources (one change; references between them order the apply). "
        "Planned, policy-checked, then applied.",
        annotations=_CHANGE,
    )
    async def resources_create(
        resources: Annotated[list[NewResource], Field(min_length=1, max_length=100)],
        ctx: Context,
        project: ProjectOpt = None,
        region: RegionOpt = None,
    ) -> ChangeSummary | InputRequiredResult:
        ops = [
            OperationInput(
                kind="create",
                resource_id=r.resource_id,
                resource_type=r.resource_type,
                config=r.config,
                provider=r.provider,
                version=r.version,
                depends_on=r.depends_on,
            )
            for r in resources
        ]
        return await submit_and_follow(endpoint, ctx, project, ops, region=region)

    @server.tool(
        name="lifecycle-resources-update",
        description="Update resources: each config is merged over the stored one (null "
        "removes a key). Replacements wait for confirmation.",
        annotations=_CHANGE,
    )
    async def resources_update(
        resources: Annotated[list[ResourcePatch], Field(min_length=1, max_length=100)],
        ctx: Context,
        project: ProjectOpt = None,
        region: RegionOpt = None,
    ) -> ChangeSummary | InputRequiredResult:
        ops = [
            OperationInput(kind="update", resource_id=r.resource_id, config=r.config)
            for r in resources
        ]
        return await submit_and_follow(endpoint, ctx, project, ops, region=region)

    @server.tool(
        name="lifecycle-resources-delete",
        description="Delete resources in reverse dependency order. Always waits for the "
        "user's confirmation.",
        annotations=_DESTRUCTIVE,
    )
    async def resources_delete(
        resource_ids: ResourceIdList, ctx: Context, project: ProjectOpt = None
    ) -> ChangeSummary | InputRequiredResult:
        ops = [OperationInput(kind="delete", resource_id=r) for r in resource_ids]
        return await submit_and_follow(endpoint, ctx, project, ops)

    @server.tool(
        name="lifecycle-resources-import",
        description="Import existing cloud objects into the project's state (nothing in the "
        "cloud changes).",
        annotations=_CHANGE,
    )
    async def resources_import(
        resources: Annotated[list[ImportedResource], Field(min_length=1, max_length=100)],
        ctx: Context,
        project: ProjectOpt = None,
        region: RegionOpt = None,
    ) -> ChangeSummary | InputRequiredResult:
        ops = [
            OperationInput(
                kind="import",
                resource_id=r.resource_id,
                resource_type=r.resource_type,
                import_id=r.import_id,
                config=r.config,
                provider=r.provider,
                version=r.version,
            )
            for r in resources
        ]
        return await submit_and_follow(endpoint, ctx, project, ops, region=region)

    @server.tool(
        name="lifecycle-resources-refresh",
        description="Re-read resources from the cloud (all of the project's when none are "
        "named, concurrently): reports attributes changed and objects deleted outside "
        "intent, marks them on the resources (state-list) and records them.",
        annotations=_CHANGE,
    )
    async def resources_refresh(
        ctx: Context,
        resource_ids: Annotated[
            list[str] | None,
            Field(max_length=100, description="Default: every resource of the project"),
        ] = None,
        project: ProjectOpt = None,
    ) -> ChangeSummary | InputRequiredResult:
        async def start(caller: Caller) -> str:
            return await svc.refresh(caller, project, resource_ids)

        followed = await start_and_follow(endpoint, ctx, start)
        assert followed is not None  # a refresh always starts a change
        return followed

    @server.tool(
        name="change-status",
        description="Where a change is: status, each operation, what it waits for.",
        annotations=_READ,
    )
    async def change_status(change_id: ChangeId, ctx: Context) -> ChangeSummary:
        view = await endpoint.call(ctx, lambda c: svc.change_view(c, change_id))
        return svc.summarize(view, endpoint.app_ctx.settings.base_url)

    @server.tool(
        name="change-confirm",
        description="Confirm a change that waits for a human. Only call this when the user "
        "explicitly said yes to this change.",
        annotations=_DESTRUCTIVE,
    )
    async def change_confirm(
        change_id: ChangeId, ctx: Context, comment: str = ""
    ) -> ChangeSummary | InputRequiredResult:
        if await _resumed(endpoint, ctx) is None:
            await endpoint.call(ctx, lambda c: svc.confirm(c, change_id, comment))
        return await follow(endpoint, ctx, change_id)

    @server.tool(
        name="change-reject",
        description="Reject a change that waits for confirmation; nothing is applied.",
        annotations=ToolAnnotations(
            read_only_hint=False,
            destructive_hint=False,
            idempotent_hint=True,
            open_world_hint=False,
        ),
    )
    async def change_reject(change_id: ChangeId, ctx: Context, comment: str = "") -> ChangeSummary:
        view = await endpoint.call(ctx, lambda c: svc.reject(c, change_id, comment))
        return svc.summarize(view, endpoint.app_ctx.settings.base_url)

    @server.tool(
        name="change-retry",
        description="Retry a failed change after its cause was fixed; config_patches "
        "(resource id → partial config) correct failed operations first.",
        annotations=_CHANGE,
    )
    async def change_retry(
        change_id: ChangeId,
        ctx: Context,
        config_patches: dict[str, dict[str, Any]] | None = None,
        comment: str = "",
    ) -> ChangeSummary | InputRequiredResult:
        if await _resumed(endpoint, ctx) is None:
            await endpoint.call(ctx, lambda c: svc.retry(c, change_id, comment, config_patches))
        return await follow(endpoint, ctx, change_id)

    @server.tool(
        name="change-abandon",
        description="Give up on a failed change; what was applied stays applied.",
        annotations=_DESTRUCTIVE,
    )
    async def change_abandon(change_id: ChangeId, ctx: Context, comment: str = "") -> ChangeSummary:
        view = await endpoint.call(ctx, lambda c: svc.abandon(c, change_id, comment))
        return svc.summarize(view, endpoint.app_ctx.settings.base_url)

    @server.tool(
        name="change-revert",
        description="Undo a past change with a new one: what it touched returns to its "
        "configuration before it (updates reverted, created resources deleted, deleted ones "
        "re-created from their last config — the data inside them is not restored). "
        "Planned, policy-checked and confirmed like any change. Refused, naming the change, "
        "when a later change touched the same resources, unless include_later.",
        annotations=_DESTRUCTIVE,
    )
    async def change_revert(
        change_id: ChangeId, ctx: Context, include_later: bool = False
    ) -> ChangeSummary | InputRequiredResult:
        followed = await start_and_follow(
            endpoint,
            ctx,
            lambda c: rollback.revert_change(c, change_id, include_later=include_later),
        )
        assert followed is not None  # a revert always starts a change
        return followed

    @server.tool(
        name="resource-revert",
        description="Return one resource to the configuration a past change left it with "
        "(a new change: planned, policy-checked and confirmed like any change).",
        annotations=_DESTRUCTIVE,
    )
    async def resource_revert(
        resource_id: str,
        to_change_id: Annotated[str, Field(description="The change whose result to return to")],
        ctx: Context,
        project: ProjectOpt = None,
    ) -> ChangeSummary | InputRequiredResult:
        followed = await start_and_follow(
            endpoint,
            ctx,
            lambda c: rollback.revert_resource(c, project, resource_id, to_change_id),
        )
        assert followed is not None
        return followed
