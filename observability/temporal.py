"""Metrics and log context around workflows and activities, without touching their code.

- ``WorkerObserver`` (a worker interceptor): each activity attempt's latency (plan,
  policy, apply), policy verdicts, lock events, lock requests refused because someone
  else holds the lease; each ended change's final status and its operations.
  Workflow-side counts go through ``workflow.metric_meter()``, which stays quiet while
  a workflow replays, so nothing is counted twice.
- ``ClientObserver`` (a client interceptor, used by the server): the change id a call
  works on, for its log lines.
- ``telemetry_runtime``: the SDK runtime, forwarding core logs to ours and (on the
  worker) exporting the SDK's metrics and ours on one Prometheus port.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any

from temporalio import activity, workflow
from temporalio.client import (
    Interceptor as ClientInterceptor,
)
from temporalio.client import (
    OutboundInterceptor,
    QueryWorkflowInput,
    SignalWorkflowInput,
    StartWorkflowInput,
    StartWorkflowUpdateInput,
    WorkflowHandle,
    WorkflowUpdateHandle,
)
from temporalio.exceptions import ApplicationError
from temporalio.runtime import (
    LogForwardingConfig,
    LoggingConfig,
    PrometheusConfig,
    Runtime,
    TelemetryConfig,
    TelemetryFilter,
)
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    ExecuteWorkflowInput,
    HandleUpdateInput,
    Interceptor,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
)

from observability.logs import change_id_var
from observability.metrics import WORKER_HISTOGRAMS, WorkerMetrics
from settings import Settings
from workflows.lock import LOCK_BUSY

__all__ = ["ClientObserver", "WorkerObserver", "telemetry_runtime"]

CHANGE_WORKFLOW = "ChangeWorkflow"


def telemetry_runtime(settings: Settings, *, metrics: bool) -> Runtime:
    """The SDK runtime for this process: core logs go through our log handler (so they
    follow ``INTENT_LOG_FORMAT``) and, when ``metrics`` and ``INTENT_METRICS_PORT`` are
    set, its Prometheus exporter serves the SDK's metrics and ours."""
    exporter = None
    if metrics and settings.metrics_port is not None:
        exporter = PrometheusConfig(
            bind_address=f"{settings.metrics_host}:{settings.metrics_port}",
            durations_as_seconds=True,
            histogram_bucket_overrides={k: list(v) for k, v in WORKER_HISTOGRAMS.items()},
        )
    return Runtime(
        telemetry=TelemetryConfig(
            logging=LoggingConfig(
                filter=TelemetryFilter(core_level="WARN", other_level="ERROR"),
                forwarding=LogForwardingConfig(logger=logging.getLogger("temporalio.core")),
            ),
            metrics=exporter,
            global_tags={"service_instance": settings.instance_id},
        )
    )


# -- worker ---------------------------------------------------------------------------


class WorkerObserver(Interceptor):
    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _ActivityObserver(next)

    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[WorkflowInboundInterceptor] | None:
        return _WorkflowObserver


class _ActivityObserver(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        kind = activity.info().activity_type
        metrics = WorkerMetrics(activity.metric_meter())
        started = time.monotonic()
        outcome = "error"
        try:
            result = await super().execute_activity(input)
            outcome = "ok"
        finally:
            latency = metrics.latency(kind)
            if latency is not None:
                latency.record(timedelta(seconds=time.monotonic() - started), {"outcome": outcome})
        if kind == "plan_change":
            for verdict in getattr(result, "verdicts", None) or []:
                decision = getattr(verdict, "decision", None)
                if decision:
                    metrics.policy_decisions.add(1, {"decision": decision})
        elif kind == "mirror_lock" and result:
            event = getattr(input.args[0], "event", None) if input.args else None
            if event:
                metrics.lock_events.add(1, {"event": event})
                if event == "expire":
                    metrics.lock_expiries.add(1)
        return result


class _WorkflowObserver(WorkflowInboundInterceptor):
    def handle_update_validator(self, input: HandleUpdateInput) -> None:
        try:
            super().handle_update_validator(input)
        except ApplicationError as exc:
            # Someone else holds the lease: the caller has to wait for it.
            if exc.type == LOCK_BUSY:
                WorkerMetrics(workflow.metric_meter()).lock_waits.add(1)
            raise

    async def execute_workflow(self, input: ExecuteWorkflowInput) -> Any:
        result = await super().execute_workflow(input)
        if workflow.info().workflow_type == CHANGE_WORKFLOW:
            metrics = WorkerMetrics(workflow.metric_meter())
            status = getattr(result, "status", None)
            if status:
                metrics.changes.add(1, {"status": status})
            for operation in getattr(result, "operations", None) or []:
                metrics.operations.add(1, {"operation": operation.kind, "status": operation.status})
        return result


# -- client (server side) -------------------------------------------------------------


class ClientObserver(ClientInterceptor):
    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        return _ClientObserver(next)


def _note_change(workflow_id: str) -> None:
    # Set in the calling task's context: the request's later log lines carry it.
    if workflow_id.startswith("change-"):
        change_id_var.set(workflow_id)


class _ClientObserver(OutboundInterceptor):
    async def start_workflow(self, input: StartWorkflowInput) -> WorkflowHandle[Any, Any]:
        _note_change(input.id)
        return await super().start_workflow(input)

    async def query_workflow(self, input: QueryWorkflowInput) -> Any:
        _note_change(input.id)
        return await super().query_workflow(input)

    async def signal_workflow(self, input: SignalWorkflowInput) -> None:
        _note_change(input.id)
        await super().signal_workflow(input)

    async def start_workflow_update(
        self, input: StartWorkflowUpdateInput
    ) -> WorkflowUpdateHandle[Any]:
        _note_change(input.id)
        return await super().start_workflow_update(input)
