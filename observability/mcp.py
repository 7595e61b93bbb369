"""Every MCP message: counted by method, tool and status, timed, and tied to its request.

Installed first in the MCP server's middleware chain, so the SDK's own OpenTelemetry
span (the "MCP call") nests under the HTTP request's span, and tools log with the
HTTP request's id although they run in the MCP session's task.
"""

from __future__ import annotations

import time
from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS, CallToolResult
from opentelemetry import context as otel_context
from pydantic import ValidationError

from observability.logs import request_id_var
from observability.metrics import ServerMetrics

__all__ = ["ObservedMCP"]


def _status(result: HandlerResult) -> str:
    match result:
        case CallToolResult(is_error=True) | {"isError": True}:
            return "tool_error"
    return "ok"


class ObservedMCP:
    def __init__(self, metrics: ServerMetrics) -> None:
        self.metrics = metrics

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> Any:
        if ctx.request_id is None:  # notifications: nothing to count
            return await call_next(ctx)
        name = ctx.params.get("name") if ctx.params else None
        tool = name if ctx.method == "tools/call" and isinstance(name, str) else ""
        scope = getattr(ctx.request, "scope", None) or {}
        state = scope.get("state") or {}
        parent = state.get("otel_context")
        otel_token = otel_context.attach(parent) if parent is not None else None
        request_token = request_id_var.set(state.get("request_id"))
        status = "error"
        started = time.perf_counter()
        try:
            result = await call_next(ctx)
            status = _status(result)
            return result
        except MCPError as exc:
            status = str(exc.error.code)
            raise
        except ValidationError:
            status = str(INVALID_PARAMS)
            raise
        finally:
            self.metrics.mcp_requests.labels(ctx.method, tool, status).inc()
            self.metrics.mcp_latency.labels(ctx.method, tool).observe(time.perf_counter() - started)
            request_id_var.reset(request_token)
            if otel_token is not None:
                otel_context.detach(otel_token)
