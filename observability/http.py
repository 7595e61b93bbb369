"""Every HTTP request: a request id, a server span, and its count and latency.

The request id (the caller's ``X-Request-ID`` when it is a sane token, else a new one)
is echoed in the response and set for log lines. Both it and the span's context are
kept in ``scope["state"]`` too, because MCP messages are handled in the MCP session's
own task, where the MCP middleware (``observability.mcp``) picks them up again.
"""

from __future__ import annotations

import re
import secrets
import time
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from observability.logs import request_id_var
from observability.metrics import ServerMetrics

__all__ = ["REQUEST_ID_HEADER", "ObservedHTTP", "route_of"]

REQUEST_ID_HEADER = "x-request-id"
_SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
_tracer = trace.get_tracer("intent.http")


def route_of(scope: Scope) -> str:
    """The route template that served the request (bounded label values): the path with
    each path parameter's value put back as ``{name}``; "unmatched" when no route did."""
    if scope.get("route") is None and scope.get("endpoint") is None:
        return "unmatched"
    path = str(scope["path"])
    for name, value in (scope.get("path_params") or {}).items():
        text = str(value)
        if text:
            path = path.replace(f"/{text}", f"/{{{name}}}", 1)
    return path


class ObservedHTTP:
    def __init__(self, app: ASGIApp, metrics: ServerMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        incoming = headers.get(REQUEST_ID_HEADER, "")
        request_id = incoming if _SANE_ID.fullmatch(incoming) else secrets.token_hex(8)
        method = scope["method"]
        status = 500

        async def send_observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message = {
                    **message,
                    "headers": [
                        *message.get("headers", []),
                        (REQUEST_ID_HEADER.encode(), request_id.encode()),
                    ],
                }
            await send(message)

        token = request_id_var.set(request_id)
        started = time.perf_counter()
        try:
            with _tracer.start_as_current_span(
                method,
                kind=trace.SpanKind.SERVER,
                context=propagate.extract(headers),
                attributes={"http.request.method": method, "url.path": scope["path"]},
            ) as span:
                state: dict[str, Any] = scope.setdefault("state", {})
                state["request_id"] = request_id
                state["otel_context"] = otel_context.get_current()
                try:
                    await self.app(scope, receive, send_observed)
                finally:
                    route = route_of(scope)
                    span.update_name(f"{method} {route}")
                    span.set_attribute("http.route", route)
                    span.set_attribute("http.response.status_code", status)
                    if status >= 500:
                        span.set_status(trace.StatusCode.ERROR)
                    self.metrics.http_requests.labels(method, route, str(status)).inc()
                    self.metrics.http_latency.labels(method, route).observe(
                        time.perf_counter() - started
                    )
        finally:
            request_id_var.reset(token)
