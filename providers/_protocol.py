"""The protocol-neutral RPC layer over tfplugin5 and tfplugin6.

Protocol 5 and 6 differ in RPC and message names (``GetSchema`` vs
``GetProviderSchema``, ``PrepareProviderConfig`` vs ``ValidateProviderConfig`` …) and
in a few fields (nested attribute types exist only in 6). Everything above this
module talks to ``PluginRPC`` with raw msgpack bytes and our ``Diagnostic`` models,
and never imports generated protobuf code.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

# We fork only to exec provider binaries (the launcher's preexec_fn forces fork over
# vfork); gRPC's fork handlers do nothing useful for that and log a line per launch
# while other threads are in gRPC. Off unless the operator set it explicitly.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")

import grpc
import grpc.aio
from opentelemetry.trace import StatusCode

from observability.metrics import worker_metrics
from observability.tracing import provider_span
from providers.errors import AttributePath, Diagnostic, MapKey, ProviderCrashedError, ProviderError
from providers.proto import tfplugin5_pb2, tfplugin5_pb2_grpc, tfplugin6_pb2, tfplugin6_pb2_grpc

__all__ = [
    "ApplyResponse",
    "ImportedObject",
    "PlanResponse",
    "PluginRPC",
    "diagnostics_from_proto",
    "path_from_proto",
]

# msgpack encoding of a null value: what we send for "no object" (and null provider_meta).
MSGPACK_NULL = b"\xc0"

T = TypeVar("T")


def path_from_proto(path: Any) -> AttributePath:
    steps: AttributePath = []
    for step in path.steps:
        which = step.WhichOneof("selector")
        if which == "attribute_name":
            steps.append(step.attribute_name)
        elif which == "element_key_string":
            steps.append(MapKey(step.element_key_string))
        elif which == "element_key_int":
            steps.append(int(step.element_key_int))
    return steps


def diagnostics_from_proto(diags: Iterable[Any]) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    for d in diags:
        severity = "warning" if d.severity == 2 else "error"
        path = path_from_proto(d.attribute) if d.HasField("attribute") else None
        out.append(
            Diagnostic(
                severity=severity,
                summary=d.summary,
                detail=d.detail,
                attribute_path=path or None,
            )
        )
    return out


@dataclass
class PlanResponse:
    planned_state: bytes
    requires_replace: list[AttributePath]
    planned_private: bytes
    diagnostics: list[Diagnostic]
    legacy_type_system: bool
    deferred: int | None


@dataclass
class ApplyResponse:
    new_state: bytes
    private: bytes
    diagnostics: list[Diagnostic]
    legacy_type_system: bool


@dataclass
class ImportedObject:
    type_name: str
    state: bytes
    private: bytes


@dataclass
class _Flavor:
    """Names that differ between protocol 5 and 6."""

    pb: Any
    stub: Callable[[grpc.aio.Channel], Any]
    get_schema: str
    validate_provider: str
    validate_provider_req: str
    validate_resource: str
    validate_resource_req: str
    validate_data: str
    validate_data_req: str
    configure: str
    configure_req: str
    stop: str
    stop_req: str
    extra: dict[str, str] = field(default_factory=dict)


_FLAVORS: dict[int, _Flavor] = {
    5: _Flavor(
        pb=tfplugin5_pb2,
        stub=tfplugin5_pb2_grpc.ProviderStub,
        get_schema="GetSchema",
        validate_provider="PrepareProviderConfig",
        validate_provider_req="PrepareProviderConfig",
        validate_resource="ValidateResourceTypeConfig",
        validate_resource_req="ValidateResourceTypeConfig",
        validate_data="ValidateDataSourceConfig",
        validate_data_req="ValidateDataSourceConfig",
        configure="Configure",
        configure_req="Configure",
        stop="Stop",
        stop_req="Stop",
    ),
    6: _Flavor(
        pb=tfplugin6_pb2,
        stub=tfplugin6_pb2_grpc.ProviderStub,
        get_schema="GetProviderSchema",
        validate_provider="ValidateProviderConfig",
        validate_provider_req="ValidateProviderConfig",
        validate_resource="ValidateResourceConfig",
        validate_resource_req="ValidateResourceConfig",
        validate_data="ValidateDataResourceConfig",
        validate_data_req="ValidateDataResourceConfig",
        configure="ConfigureProvider",
        configure_req="ConfigureProvider",
        stop="StopProvider",
        stop_req="StopProvider",
    ),
}

SUPPORTED_PROTOCOLS = tuple(sorted(_FLAVORS))


class PluginRPC:
    """Typed, protocol-neutral calls on one provider's gRPC channel.

    ``process_exited(grace)`` tells whether the plugin process has exited (waiting up
    to ``grace`` seconds); ``on_broken`` is called when a call failed because the
    channel or process is gone, so the owner can mark itself dead and be replaced.
    """

    def __init__(
        self,
        channel: grpc.aio.Channel,
        protocol_version: int,
        *,
        label: str = "provider",
        on_broken: Callable[[], None] | None = None,
        process_exited: Callable[[float], Awaitable[bool]] | None = None,
        stderr_tail: Callable[[], str] | None = None,
    ) -> None:
        if protocol_version not in _FLAVORS:
            raise ValueError(f"unsupported plugin protocol {protocol_version}")
        self.protocol_version = protocol_version
        self._f = _FLAVORS[protocol_version]
        self._pb = self._f.pb
        self._stub = self._f.stub(channel)
        self._label = label
        # Metric labels name the provider, never the process ("hashicorp/aws 5.100.0 (pid …)").
        self._provider = label.split(" ", 1)[0]
        self._on_broken = on_broken
        self._process_exited = process_exited
        self._stderr_tail = stderr_tail

    # -- plumbing ---------------------------------------------------------------------
    def _dv(self, msgpack_bytes: bytes | None) -> Any:
        return self._pb.DynamicValue(msgpack=msgpack_bytes if msgpack_bytes else MSGPACK_NULL)

    def _caps(self) -> Any:
        # We do not handle deferred changes (a change either plans fully or fails), and
        # we do keep write-only attributes out of planned and stored state.
        return self._pb.ClientCapabilities(
            deferral_allowed=False, write_only_attributes_allowed=True
        )

    async def _call(
        self, name: str, request: Any, deadline: float | None, operation: str | None = None
    ) -> Any:
        method: Callable[..., Awaitable[Any]] = getattr(self._stub, name)
        metrics = worker_metrics()
        labels = {"provider": self._provider, "rpc": name}
        outcome = "error"
        started = time.monotonic()
        with provider_span(self._provider, name) as span:
            try:
                response = await method(request, timeout=deadline)
                outcome = "ok"
                return response
            except grpc.aio.AioRpcError as exc:
                code = exc.code()
                crashed = code == grpc.StatusCode.UNAVAILABLE
                if not crashed and code in (grpc.StatusCode.UNKNOWN, grpc.StatusCode.CANCELLED):
                    # A provider panic surfaces as UNKNOWN/CANCELLED while the process
                    # dies; a plain handler error is UNKNOWN too, so ask whether it exited.
                    crashed = self._process_exited is not None and await self._process_exited(0.5)
                outcome = "crashed" if crashed else code.name.lower()
                span.set_status(StatusCode.ERROR, outcome)
                raise self._translate(exc, operation or name, crashed) from None
            finally:
                metrics.provider_rpcs.add(1, {**labels, "outcome": outcome})
                metrics.provider_rpc_latency.record(
                    timedelta(seconds=time.monotonic() - started), labels
                )

    def _translate(self, exc: grpc.aio.AioRpcError, operation: str, crashed: bool) -> ProviderError:
        code = exc.code()
        details = exc.details() or ""
        if crashed:
            if self._on_broken is not None:
                self._on_broken()
            tail = self._stderr_tail() if self._stderr_tail else ""
            detail = details + (f"\n--- provider stderr (tail) ---\n{tail}" if tail else "")
            return ProviderCrashedError(
                f"{self._label} {operation}: the provider process stopped responding ({code.name})",
                [Diagnostic.error("Plugin did not respond", detail)],
                operation=operation,
            )
        if code == grpc.StatusCode.DEADLINE_EXCEEDED:
            return ProviderError(
                f"{self._label} {operation}: timed out",
                [Diagnostic.error("Provider call timed out", details)],
                operation=operation,
            )
        if code == grpc.StatusCode.UNIMPLEMENTED:
            return ProviderError(
                f"{self._label} {operation}: the provider does not implement this call",
                [Diagnostic.error("Unimplemented provider call", details)],
                operation=operation,
            )
        return ProviderError(
            f"{self._label} {operation}: gRPC error {code.name}",
            [Diagnostic.error(f"gRPC error {code.name}", details)],
            operation=operation,
        )

    # -- calls ------------------------------------------------------------------------
    async def get_schema(self, deadline: float | None = 300.0) -> Any:
        """The raw ``GetProviderSchema.Response`` message (SchemaCache stores it)."""
        req = self._pb.GetProviderSchema.Request()
        return await self._call(self._f.get_schema, req, deadline, "GetProviderSchema")

    async def validate_provider_config(
        self, config: bytes, deadline: float | None = 120.0
    ) -> list[Diagnostic]:
        req = getattr(self._pb, self._f.validate_provider_req).Request(config=self._dv(config))
        resp = await self._call(self._f.validate_provider, req, deadline, "ValidateProviderConfig")
        return diagnostics_from_proto(resp.diagnostics)

    async def configure(
        self, config: bytes, terraform_version: str, deadline: float | None = 120.0
    ) -> list[Diagnostic]:
        req = getattr(self._pb, self._f.configure_req).Request(
            terraform_version=terraform_version,
            config=self._dv(config),
            client_capabilities=self._caps(),
        )
        resp = await self._call(self._f.configure, req, deadline, "ConfigureProvider")
        return diagnostics_from_proto(resp.diagnostics)

    async def validate_resource_config(
        self, type_name: str, config: bytes, deadline: float | None = 60.0
    ) -> list[Diagnostic]:
        req = getattr(self._pb, self._f.validate_resource_req).Request(
            type_name=type_name, config=self._dv(config), client_capabilities=self._caps()
        )
        resp = await self._call(self._f.validate_resource, req, deadline, "ValidateResourceConfig")
        return diagnostics_from_proto(resp.diagnostics)

    async def validate_data_source_config(
        self, type_name: str, config: bytes, deadline: float | None = 60.0
    ) -> list[Diagnostic]:
        req = getattr(self._pb, self._f.validate_data_req).Request(
            type_name=type_name, config=self._dv(config)
        )
        resp = await self._call(self._f.validate_data, req, deadline, "ValidateDataSourceConfig")
        return diagnostics_from_proto(resp.diagnostics)

    async def upgrade_resource_state(
        self, type_name: str, version: int, raw_json: bytes, deadline: float | None = 60.0
    ) -> tuple[bytes, list[Diagnostic]]:
        req = self._pb.UpgradeResourceState.Request(
            type_name=type_name, version=version, raw_state=self._pb.RawState(json=raw_json)
        )
        resp = await self._call("UpgradeResourceState", req, deadline)
        return resp.upgraded_state.msgpack, diagnostics_from_proto(resp.diagnostics)

    async def read_resource(
        self,
        type_name: str,
        state: bytes,
        private: bytes,
        provider_meta: bytes | None,
        deadline: float | None = None,
    ) -> tuple[bytes, bytes, list[Diagnostic], int | None]:
        req = self._pb.ReadResource.Request(
            type_name=type_name,
            current_state=self._dv(state),
            private=private,
            client_capabilities=self._caps(),
        )
        if provider_meta is not None:
            req.provider_meta.CopyFrom(self._dv(provider_meta))
        resp = await self._call("ReadResource", req, deadline)
        deferred = resp.deferred.reason if resp.HasField("deferred") else None
        return (
            resp.new_state.msgpack,
            resp.private,
            diagnostics_from_proto(resp.diagnostics),
            deferred,
        )

    async def plan_resource_change(
        self,
        type_name: str,
        prior_state: bytes,
        proposed_new_state: bytes,
        config: bytes,
        prior_private: bytes,
        provider_meta: bytes | None,
        deadline: float | None = None,
    ) -> PlanResponse:
        req = self._pb.PlanResourceChange.Request(
            type_name=type_name,
            prior_state=self._dv(prior_state),
            proposed_new_state=self._dv(proposed_new_state),
            config=self._dv(config),
            prior_private=prior_private,
            client_capabilities=self._caps(),
        )
        if provider_meta is not None:
            req.provider_meta.CopyFrom(self._dv(provider_meta))
        resp = await self._call("PlanResourceChange", req, deadline)
        return PlanResponse(
            planned_state=resp.planned_state.msgpack,
            requires_replace=[path_from_proto(p) for p in resp.requires_replace],
            planned_private=resp.planned_private,
            diagnostics=diagnostics_from_proto(resp.diagnostics),
            legacy_type_system=resp.legacy_type_system,
            deferred=resp.deferred.reason if resp.HasField("deferred") else None,
        )

    async def apply_resource_change(
        self,
        type_name: str,
        prior_state: bytes,
        planned_state: bytes,
        config: bytes,
        planned_private: bytes,
        provider_meta: bytes | None,
        deadline: float | None = None,
    ) -> ApplyResponse:
        req = self._pb.ApplyResourceChange.Request(
            type_name=type_name,
            prior_state=self._dv(prior_state),
            planned_state=self._dv(planned_state),
            config=self._dv(config),
            planned_private=planned_private,
        )
        if provider_meta is not None:
            req.provider_meta.CopyFrom(self._dv(provider_meta))
        resp = await self._call("ApplyResourceChange", req, deadline)
        return ApplyResponse(
            new_state=resp.new_state.msgpack,
            private=resp.private,
            diagnostics=diagnostics_from_proto(resp.diagnostics),
            legacy_type_system=resp.legacy_type_system,
        )

    async def import_resource_state(
        self, type_name: str, import_id: str, deadline: float | None = None
    ) -> tuple[list[ImportedObject], list[Diagnostic], int | None]:
        req = self._pb.ImportResourceState.Request(
            type_name=type_name, id=import_id, client_capabilities=self._caps()
        )
        resp = await self._call("ImportResourceState", req, deadline)
        objs = [
            ImportedObject(type_name=r.type_name, state=r.state.msgpack, private=r.private)
            for r in resp.imported_resources
        ]
        deferred = resp.deferred.reason if resp.HasField("deferred") else None
        return objs, diagnostics_from_proto(resp.diagnostics), deferred

    async def read_data_source(
        self,
        type_name: str,
        config: bytes,
        provider_meta: bytes | None,
        deadline: float | None = None,
    ) -> tuple[bytes, list[Diagnostic], int | None]:
        req = self._pb.ReadDataSource.Request(
            type_name=type_name, config=self._dv(config), client_capabilities=self._caps()
        )
        if provider_meta is not None:
            req.provider_meta.CopyFrom(self._dv(provider_meta))
        resp = await self._call("ReadDataSource", req, deadline)
        deferred = resp.deferred.reason if resp.HasField("deferred") else None
        return resp.state.msgpack, diagnostics_from_proto(resp.diagnostics), deferred

    async def stop(self, deadline: float = 5.0) -> str:
        """Ask the provider to cancel in-flight work (StopProvider). Returns its error."""
        req = getattr(self._pb, self._f.stop_req).Request()
        resp = await self._call(self._f.stop, req, deadline, "StopProvider")
        return str(resp.Error)


async def call_shutdown(channel: grpc.aio.Channel, deadline: float = 2.0) -> None:
    """go-plugin's ``GRPCController.Shutdown``: asks the plugin server to exit cleanly.

    The request and response are ``google.protobuf.Empty`` (zero bytes), so no
    generated code is needed.
    """
    method = channel.unary_unary(
        "/plugin.GRPCController/Shutdown",
        request_serializer=lambda _: b"",
        response_deserializer=lambda _: None,
    )
    await asyncio.wait_for(method(None, timeout=deadline), deadline + 0.5)
