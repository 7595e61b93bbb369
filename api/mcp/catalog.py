"""MCP resources and prompts: what a client can read, and the walkthrough's tasks.

Resources (read with the caller's identity, like the tools):

- ``intent://policy/input-schema``: the JSON Schema of an Intent policy's ``input``,
  and ``intent://policy/input-example``, one plausible input, for writing policies;
- ``intent://projects/{project}/state``: the resources a project manages;
- ``intent://projects/{project}/resources/{resource_id}``: one resource's config
  and state (sensitive values masked).

Prompts start the walkthrough's tasks: start a project, create a tagged bucket, write
a policy, review a project.

Protocol edges (``ProtocolEdges``, a middleware): an unknown prompt or bad prompt
arguments are ``-32602`` (invalid params) naming the prompts there are; an unknown
resource is ``-32002`` on connections of protocol 2025-11-25 and earlier (their spec's
"resource not found") and ``-32602`` from 2026-07-28 on, which retired ``-32002``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from mcp.server import MCPServer
from mcp.server.context import CallNext, ServerRequestContext
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS
from mcp_types.version import is_version_at_least

from api.errors import IntentError, NotFound
from api.services import resources as resources_svc
from policies.input import PolicyInput

if TYPE_CHECKING:
    from api.context import Caller
    from api.mcp.server import McpEndpoint

__all__ = ["RESOURCE_NOT_FOUND", "ProtocolEdges", "register"]

# "Resource not found" of the 2024-11-05 .. 2025-11-25 specs (retired in 2026-07-28).
RESOURCE_NOT_FOUND = -32002
_JSON = "application/json"


def _json(value: Any) -> str:
    return json.dumps(value, indent=1, sort_keys=True, default=str)


def register(endpoint: McpEndpoint) -> None:
    server = endpoint.server

    async def read(ctx: Context, fn: Any) -> str:
        """A resource read as the caller; a missing project or resource is not found."""
        try:
            result = await fn(endpoint.caller(ctx))
        except NotFound as exc:
            raise ResourceNotFoundError(exc.message) from exc
        except IntentError as exc:
            raise ResourceError(exc.message) from exc
        return _json(result.model_dump(mode="json"))

    @server.resource(
        "intent://policy/input-schema",
        name="policy-input-schema",
        title="Intent policy input (JSON Schema)",
        description="The shape of `input` an Intent policy (package spacelift) sees.",
        mime_type=_JSON,
    )
    def policy_input_schema() -> str:
        return _json(PolicyInput.model_json_schema())

    @server.resource(
        "intent://policy/input-example",
        name="policy-input-example",
        title="An example Intent policy input",
        description="A plausible `input` for a bucket create: a start for policy-simulate.",
        mime_type=_JSON,
    )
    def policy_input_example() -> str:
        return _json(PolicyInput.example().model_dump(mode="json"))

    @server.resource(
        "intent://projects/{project}/state",
        name="project-state",
        title="A project's resources",
        description="The resources intent manages in a project (first 200).",
        mime_type=_JSON,
    )
    async def project_state(project: str, ctx: Context) -> str:
        async def fn(caller: Caller) -> Any:
            return await resources_svc.list_resources(caller, project, limit=200)

        return await read(ctx, fn)

    @server.resource(
        "intent://projects/{project}/resources/{resource_id}",
        name="project-resource",
        title="One resource's config and state",
        description="Config and current state of a resource (sensitive values masked).",
        mime_type=_JSON,
    )
    async def project_resource(project: str, resource_id: str, ctx: Context) -> str:
        async def fn(caller: Caller) -> Any:
            return await resources_svc.get_resource(caller, project, resource_id)

        return await read(ctx, fn)

    @server.prompt(
        name="start-project",
        title="Start a project",
        description="Create an intent project and lock it for you.",
    )
    def start_project(name: str) -> str:
        return (
            f"Create an intent project called {name} and use it (project-create, then "
            "project-use, which locks it to me). Tell me who holds the lock if it is taken."
        )

    @server.prompt(
        name="create-bucket",
        title="Create a tagged S3 bucket",
        description="The walkthrough's first change: an S3 bucket with tags.",
    )
    def create_bucket(bucket: str, environment: str = "dev") -> str:
        return (
            f"Create an S3 bucket {bucket} tagged Environment={environment} in my locked "
            "project. Check with integration-list that an AWS integration is attached (ask "
            "me before attaching one or turning its Write on), check aws_s3_bucket's schema "
            "with provider-resources-describe, plan it with resource-plan, then create it "
            "with lifecycle-resources-create and tell me what was applied (or what a policy "
            "said)."
        )

    @server.prompt(
        name="write-policy",
        title="Write an Intent policy",
        description="Draft, test and create a Rego policy for what you want to allow or deny.",
    )
    def write_policy(goal: str) -> str:
        return (
            f"Write an Intent policy (Rego v1, package spacelift) that {goal}. Read the "
            "resource intent://policy/input-schema for what `input` holds, try the draft "
            "with policy-simulate on intent://policy/input-example and on a counter-example, "
            "show me the result, and create it with policy-create only when I agree."
        )

    @server.prompt(
        name="review-project",
        title="Review a project",
        description="What a project manages, its recent history and attached policies.",
    )
    def review_project(project: str) -> str:
        return (
            f"Review project {project}: list what it manages (state-list), its last 20 "
            "history entries (history-list) and its policies (policy-list), and point out "
            "failed or waiting changes (change-status) with what I can do about them."
        )


class ProtocolEdges:
    """Error codes for prompts and resources that clients (and the spec) expect."""

    def __init__(self, server: MCPServer[Any]) -> None:
        self.server = server

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> Any:
        if ctx.method == "prompts/get":
            return await self._prompt(ctx, call_next)
        if ctx.method == "resources/read":
            return await self._resource(ctx, call_next)
        return await call_next(ctx)

    async def _prompt(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> Any:
        name = ctx.params.get("name") if ctx.params else None
        known = sorted(prompt.name for prompt in await self.server.list_prompts())
        if name not in known:
            raise MCPError(
                code=INVALID_PARAMS,
                message=f"unknown prompt {name!r}; prompts/list names them: {', '.join(known)}",
            )
        try:
            return await call_next(ctx)
        except MCPError:
            raise
        except Exception as exc:
            # The SDK reports a missing argument as a plain error (code 0).
            raise MCPError(code=INVALID_PARAMS, message=f"prompt {name}: {exc}") from exc

    async def _resource(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> Any:
        try:
            return await call_next(ctx)
        except MCPError as exc:
            version = ctx.protocol_version
            modern = bool(version) and is_version_at_least(str(version), "2026-07-28")
            if exc.error.code == INVALID_PARAMS and not modern:
                raise MCPError(
                    code=RESOURCE_NOT_FOUND, message=exc.error.message, data=exc.error.data
                ) from exc
            raise
