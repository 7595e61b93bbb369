"""MCP tools for Intent policies (managing them needs intent-policy:* actions: policy-author)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from mcp.server.mcpserver import Context
from mcp.types import ToolAnnotations
from pydantic import BaseModel, Field

from api.services import policies as svc

if TYPE_CHECKING:
    from api.mcp.server import McpEndpoint

__all__ = ["register"]

PolicyRef = Annotated[str, Field(description="Policy name or id")]
_READ = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)
_WRITE = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=False
)


class SampleList(BaseModel):
    policy: str
    samples: list[svc.SampleView]


def register(endpoint: McpEndpoint) -> None:
    server = endpoint.server

    @server.tool(name="policy-list", description="Intent policies (paginated).", annotations=_READ)
    async def policy_list(
        ctx: Context, limit: Annotated[int, Field(ge=1, le=200)] = 50, cursor: str | None = None
    ) -> svc.PolicyList:
        return await endpoint.call(ctx, lambda c: svc.list_policies(c, limit=limit, cursor=cursor))

    @server.tool(
        name="policy-get",
        description="A policy's Rego body, labels and attachments.",
        annotations=_READ,
    )
    async def policy_get(policy: PolicyRef, ctx: Context) -> svc.PolicyView:
        return await endpoint.call(ctx, lambda c: svc.get_policy(c, policy))

    @server.tool(
        name="policy-create",
        description="Create an Intent policy (Rego, package spacelift: deny/allow sets of "
        "strings, optional sample). Invalid Rego is rejected with line and column.",
        annotations=_WRITE,
    )
    async def policy_create(
        name: str,
        body: str,
        ctx: Context,
        description: str = "",
        labels: list[str] | None = None,
        rego_version: svc.RegoVersion = "v1",
    ) -> svc.PolicyView:
        create = svc.PolicyCreate(
            name=name,
            body=body,
            description=description,
            labels=labels or [],
            rego_version=rego_version,
        )
        return await endpoint.call(ctx, lambda c: svc.create_policy(c, create))

    @server.tool(
        name="policy-update",
        description="Change a policy's body, labels or description (only what you pass).",
        annotations=_WRITE,
    )
    async def policy_update(
        policy: PolicyRef,
        ctx: Context,
        body: str | None = None,
        description: str | None = None,
        labels: list[str] | None = None,
        rego_version: svc.RegoVersion | None = None,
    ) -> svc.PolicyView:
        changes = svc.PolicyUpdate(
            body=body, description=description, labels=labels, rego_version=rego_version
        )
        return await endpoint.call(ctx, lambda c: svc.update_policy(c, policy, changes))

    @server.tool(
        name="policy-attach", description="Attach a policy to a project.", annotations=_WRITE
    )
    async def policy_attach(policy: PolicyRef, project: str, ctx: Context) -> svc.PolicyView:
        return await endpoint.call(ctx, lambda c: svc.attach(c, policy, project))

    @server.tool(
        name="policy-detach", description="Detach a policy from a project.", annotations=_WRITE
    )
    async def policy_detach(policy: PolicyRef, project: str, ctx: Context) -> svc.PolicyView:
        return await endpoint.call(ctx, lambda c: svc.detach(c, policy, project))

    @server.tool(
        name="policy-simulate",
        description="Evaluate a policy (or a draft body) against a kept sample or a given "
        "input; returns the decision, deny/allow reasons and prints. Changes nothing.",
        annotations=_READ,
    )
    async def policy_simulate(
        ctx: Context,
        policy: PolicyRef | None = None,
        body: str | None = None,
        input: dict[str, Any] | None = None,
        sample_id: str | None = None,
    ) -> svc.SimulationResult:
        request = svc.SimulateRequest(body=body, input=input, sample_id=sample_id)
        return await endpoint.call(ctx, lambda c: svc.simulate(c, policy, request))

    @server.tool(
        name="policy-samples",
        description="Evaluations a policy kept (sample = true): input and result, newest first.",
        annotations=_READ,
    )
    async def policy_samples(
        policy: PolicyRef, ctx: Context, limit: Annotated[int, Field(ge=1, le=100)] = 10
    ) -> SampleList:
        samples = await endpoint.call(ctx, lambda c: svc.list_samples(c, policy, limit=limit))
        return SampleList(policy=policy, samples=samples)

    @server.tool(
        name="policy-delete",
        description="Delete a policy. Refused while it governs a project (attached, or "
        "auto-attached by label): detach it or drop its autoattach labels first.",
        annotations=ToolAnnotations(
            read_only_hint=False,
            destructive_hint=True,
            idempotent_hint=False,
            open_world_hint=False,
        ),
    )
    async def policy_delete(policy: PolicyRef, ctx: Context) -> dict[str, str]:
        await endpoint.call(ctx, lambda c: svc.delete_policy(c, policy))
        return {"deleted": policy}

    @server.tool(
        name="policy-input-schema",
        description="What a policy is given (`input`, as JSON Schema, with an example) and "
        "which rules it may define. Read this before writing a policy.",
        annotations=_READ,
    )
    async def policy_input_schema(ctx: Context) -> svc.PolicyInputSchema:
        return svc.input_schema()
