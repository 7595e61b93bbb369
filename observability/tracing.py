"""OpenTelemetry tracing, off unless ``INTENT_OTLP_ENDPOINT`` is set.

One trace follows a change: the HTTP request (our ASGI middleware) or the MCP call
(the MCP SDK's own span), the workflow and its activities (Temporal's
``TracingInterceptor`` carries the context through workflow headers), and every
provider RPC (``provider_span``). Only the OpenTelemetry API is a dependency; the SDK
and the OTLP exporter are the ``otel`` extra, needed only when tracing is on.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

from opentelemetry import trace

from settings import Settings

__all__ = ["configure_tracing", "provider_span", "temporal_interceptors", "tracing_enabled"]

log = logging.getLogger(__name__)

_tracer = trace.get_tracer("intent")
_enabled = False


def tracing_enabled() -> bool:
    return _enabled


def configure_tracing(settings: Settings, service: str) -> bool:
    """Export spans to ``settings.otlp_endpoint`` (OTLP/gRPC); False when not configured."""
    global _enabled
    if not settings.otlp_endpoint or _enabled:
        return _enabled
    try:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as exc:
        raise RuntimeError(
            "INTENT_OTLP_ENDPOINT is set but the OpenTelemetry SDK is not installed; "
            "install intent with the otel extra (pip install 'intent[otel]') or unset it"
        ) from exc
    endpoint = settings.otlp_endpoint
    provider = TracerProvider(
        resource=Resource.create(
            {"service.name": service, "service.instance.id": settings.instance_id}
        )
    )
    provider.add_span_processor(
        BatchSpanProcessor(
            OTLPSpanExporter(endpoint=endpoint, insecure=endpoint.startswith("http://"))
        )
    )
    trace.set_tracer_provider(provider)
    _enabled = True
    log.info("tracing: exporting spans to %s as %s", endpoint, service)
    return True


def temporal_interceptors() -> list[Any]:
    """Interceptors for Temporal clients (and workers built from them) when tracing is on."""
    if not _enabled:
        return []
    from temporalio.contrib.opentelemetry import TracingInterceptor

    return [TracingInterceptor()]


@contextlib.contextmanager
def provider_span(provider: str, rpc: str) -> Iterator[trace.Span]:
    """A client span around one provider RPC (free when tracing is off)."""
    with _tracer.start_as_current_span(
        f"provider {rpc}",
        kind=trace.SpanKind.CLIENT,
        attributes={"rpc.system": "grpc", "rpc.method": rpc, "intent.provider": provider},
    ) as span:
        yield span
