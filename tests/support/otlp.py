"""An OTLP/gRPC trace collector inside the test process: it keeps every span it gets."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import grpc.aio

from tests.support.stack import free_port

__all__ = ["Collector", "SpanRecord", "otlp_collector"]


@dataclass(frozen=True)
class SpanRecord:
    service: str
    name: str
    trace_id: str
    span_id: str
    parent_id: str


@dataclass
class Collector:
    endpoint: str
    spans: list[SpanRecord] = field(default_factory=list)

    def add(self, request: Any) -> None:
        for resource_spans in request.resource_spans:
            service = next(
                (
                    a.value.string_value
                    for a in resource_spans.resource.attributes
                    if a.key == "service.name"
                ),
                "",
            )
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    self.spans.append(
                        SpanRecord(
                            service=service,
                            name=span.name,
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_id=span.parent_span_id.hex(),
                        )
                    )

    def ancestors(self, span: SpanRecord) -> list[SpanRecord]:
        by_id = {s.span_id: s for s in self.spans if s.trace_id == span.trace_id}
        chain = []
        current = by_id.get(span.parent_id)
        while current is not None:
            chain.append(current)
            current = by_id.get(current.parent_id)
        return chain

    async def wait_for(self, predicate: Any, seconds: float = 30.0) -> None:
        deadline = asyncio.get_running_loop().time() + seconds
        while not predicate():
            if asyncio.get_running_loop().time() > deadline:
                names = sorted({s.name for s in self.spans})
                raise AssertionError(f"spans did not arrive in {seconds:.0f}s; got {names}")
            await asyncio.sleep(0.2)


@asynccontextmanager
async def otlp_collector() -> AsyncIterator[Collector]:
    from opentelemetry.proto.collector.trace.v1 import (
        trace_service_pb2,
        trace_service_pb2_grpc,
    )

    port = free_port()
    collector = Collector(endpoint=f"http://127.0.0.1:{port}")

    class TraceService(trace_service_pb2_grpc.TraceServiceServicer):
        async def Export(self, request: Any, context: Any) -> Any:
            collector.add(request)
            return trace_service_pb2.ExportTraceServiceResponse()

    server = grpc.aio.server()
    # Generated without annotations.
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(  # type: ignore[no-untyped-call]
        TraceService(), server
    )
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    try:
        yield collector
    finally:
        await server.stop(grace=None)
