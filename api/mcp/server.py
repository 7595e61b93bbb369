"""The MCP endpoint: tools an AI client calls, mounted in the FastAPI app.

Tools are thin: authenticate (done by the ASGI guard), call the same service functions
as the REST API, and translate ``IntentError`` into a tool error the model can read.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from mcp.server import MCPServer
from mcp.server.context import CallNext, ServerRequestContext
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp.server.request_state import RequestStateSecurity
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp
from mcp.server.transport_security import TransportSecuritySettings
from mcp.types import CallToolResult, ListToolsResult, TextContent
from pydantic import ValidationError
from starlette.types import ASGIApp

from access.models import Principal
from access.scopes import READ, WRITE, allows_writes
from api.arguments import describe_argument_errors
from api.auth import BearerAuthMiddleware
from api.context import AppContext, Caller
from api.errors import IntentError
from api.mcp import (
    catalog,
    tools_changes,
    tools_integrations,
    tools_policies,
    tools_projects,
    tools_providers,
    tools_state,
)
from api.mcp.catalog import ProtocolEdges
from api.mcp.results import ShortText
from api.urls import allowed_hosts, allowed_origins
from observability.mcp import ObservedMCP
from observability.metrics import server_metrics
from store.secrets import SecretBox

__all__ = ["INSTRUCTIONS", "McpEndpoint", "build_mcp"]

T = TypeVar("T")

INSTRUCTIONS = """\
intent turns what the user asks for into real cloud infrastructure by driving
Terraform/OpenTofu provider plugins directly (no HCL files), under policies, with
state, history and locks. Work like this:

1. Project: project-list, or project-create NAME. A project scopes resources,
   policies, credentials (integrations, environment) and history. project-describe
   shows one at a glance; project-current names the one you hold.
2. Lock: project-use NAME. Only the lock holder changes a project; the lease lapses
   after a few minutes without calls and every call renews it. If someone else holds
   it, tell the user who and until when; do not retry in a loop.
   Cloud access: integration-list shows the project's integrations (AWS: region,
   Read, Write). To create AWS resources one must be attached with the region the
   user wants and Write on (integration-attach; ask the user before turning on Write).
3. Learn the schema before writing config: provider-describe hashicorp/aws (filter
   by name), then provider-resources-describe for the exact attributes and blocks.
   Blocks are lists of objects, e.g. "versioning_configuration": [{"status": "Enabled"}].
4. Change: lifecycle-resources-create / -update (partial config, null removes a key) /
   -delete / -import / -refresh. Give each resource a resource_id of your choosing;
   refer to another resource's attribute as "${resource_id.attribute}". Use
   resource-plan first when unsure: it shows the diff and the policy verdict and
   applies nothing. Discover existing objects with lifecycle-datasources-read.
5. Each change is planned, checked against the project's policies, and applied in
   dependency order. A policy may deny it (relay the reasons). Deletes, replacements
   and changes a policy sends to review wait for a human: the user is asked directly
   when the client supports it; otherwise show the user what waits and let them
   decide. Call change-confirm only after the user explicitly said yes.
6. A failed apply waits: fix the cause, then change-retry (with config_patches for
   the failed resources) or change-abandon. change-status shows where a change is.
7. state-list / state-get show what intent manages; history-list shows every attempt
   and what each applied operation changed. project-export writes the project as
   Terraform files for the user's repository.
8. Release the lock with project-release when the user is done.

Policies (policy-*) are managed by users whose role allows it (policy-author);
policy-input-schema shows what a policy is given.
Errors name what went wrong and how to fix it; relay them to the user faithfully.
Never claim something was applied unless the tool result says "applied".
"""


def _principal_of_request(request: object) -> Principal:
    principal = getattr(getattr(request, "state", None), "principal", None)
    if not isinstance(principal, Principal):
        # The ASGI guard admits no request without one; this is a wiring bug.
        raise ToolError("this request carries no authenticated principal")
    return principal


class ReadOnlyGate:
    """Read-only mode: a token without ``mcp:write`` lists and calls only the tools
    annotated read-only. (Each service still asks the permission rules; this keeps
    the model from being offered tools it may not use.)"""

    def __init__(self, server: MCPServer[Any]) -> None:
        self.server = server
        self._read_only: frozenset[str] | None = None

    async def read_only(self) -> frozenset[str]:
        if self._read_only is None:
            tools = await self.server.list_tools()
            self._read_only = frozenset(
                t.name for t in tools if t.annotations and t.annotations.read_only_hint
            )
        return self._read_only

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> Any:
        if ctx.method not in ("tools/list", "tools/call") or ctx.request is None:
            return await call_next(ctx)
        if allows_writes(_principal_of_request(ctx.request).scopes):
            return await call_next(ctx)
        read_only = await self.read_only()
        if ctx.method == "tools/call":
            name = str((ctx.params or {}).get("name", ""))
            if name in read_only:
                return await call_next(ctx)
            return CallToolResult(
                content=[TextContent(type="text", text=read_only_refusal(name))], is_error=True
            )
        listed = await call_next(ctx)
        # Handlers' results arrive here as models or as their serialized dicts.
        if isinstance(listed, ListToolsResult):
            listed.tools = [t for t in listed.tools if t.name in read_only]
        elif isinstance(listed, dict) and isinstance(listed.get("tools"), list):
            listed = {**listed, "tools": [t for t in listed["tools"] if t.get("name") in read_only]}
        return listed


def read_only_refusal(tool: str) -> str:
    return (
        f"{tool} changes things, and this connection is read-only (its token carries only "
        f"{READ}). To make changes, sign in to intent again from your client and grant "
        f"{WRITE}, or use an API key with {WRITE}"
    )


class McpEndpoint:
    """The MCP server plus the ASGI app that serves it, guarded by bearer auth."""

    def __init__(self, app_ctx: AppContext, server: MCPServer) -> None:
        self.app_ctx = app_ctx
        self.server = server
        security = TransportSecuritySettings(
            enable_dns_rebinding_protection=True,
            allowed_hosts=allowed_hosts(app_ctx.settings),
            allowed_origins=allowed_origins(app_ctx.settings),
        )
        # Building the Starlette app is how the SDK creates the session manager; we
        # mount the manager's ASGI handler ourselves at two paths.
        server.streamable_http_app(transport_security=security)
        self.session_manager = server.session_manager
        # ``unguarded`` serves requests whose principal is already set (the bench).
        self.unguarded: ASGIApp = StreamableHTTPASGIApp(self.session_manager)
        self.asgi: ASGIApp = BearerAuthMiddleware(self.unguarded, app_ctx.db, app_ctx.settings)

    def caller(self, ctx: Context) -> Caller:
        principal = _principal_of_request(ctx.request_context.request)
        return Caller(app=self.app_ctx, principal=principal, via="mcp")

    async def call(self, ctx: Context, fn: Callable[[Caller], Awaitable[T]]) -> T:
        """Run a service call for the tool's caller; user errors become tool errors."""
        try:
            return await fn(self.caller(ctx))
        except IntentError as exc:
            raise ToolError(exc.message) from exc


class IntentMCPServer(MCPServer[Any]):
    """The SDK's server, with argument errors told in the tool's own terms."""

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None = None
    ) -> Any:
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as exc:
            cause = exc.__cause__
            if isinstance(cause, ValidationError) and not isinstance(exc, UnexpectedToolError):
                raise ToolError(describe_argument_errors(f"tool {name}", cause)) from cause
            raise


def build_mcp(app_ctx: AppContext) -> McpEndpoint:
    box = SecretBox.from_settings(app_ctx.settings)
    server: MCPServer[Any] = IntentMCPServer(
        name="intent",
        # Shared by every server process (same secret key), so a 2026-07-28 client's
        # retry with the user's answer may land on any of them.
        request_state_security=RequestStateSecurity(keys=[box.derived_key("mcp-request-state")]),
        title="intent",
        instructions=INSTRUCTIONS,
        version="0.1.0",
        website_url=app_ctx.settings.base_url,
    )
    # First in the chain: the SDK's own span then nests under the HTTP request's.
    server.middleware.insert(0, ObservedMCP(server_metrics()))
    server.middleware.append(ProtocolEdges(server))
    server.middleware.append(ShortText())
    server.middleware.append(ReadOnlyGate(server))
    endpoint = McpEndpoint(app_ctx, server)
    for module in (
        tools_projects,
        tools_providers,
        tools_changes,
        tools_state,
        tools_policies,
        tools_integrations,
        catalog,
    ):
        module.register(endpoint)
    return endpoint
