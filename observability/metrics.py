"""Prometheus metrics: every family's name, help and labels live here.

Two exporters, one per process kind, so nothing is counted twice:

- the **server** counts HTTP and MCP calls with ``prometheus_client``
  and serves them at ``/metrics`` (``server_registry``);
- the **worker** records through the Temporal SDK runtime's metric meter, exported by
  the runtime's own Prometheus endpoint (``INTENT_METRICS_PORT``) beside the SDK's
  metrics. Workflow code must use ``workflow.metric_meter()`` (it stays quiet during
  replay), activities ``activity.metric_meter()``; the provider pool, which runs
  outside both, uses the meter ``install_worker_meter`` was given at start.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cached_property

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    ProcessCollector,
)
from temporalio.common import MetricCounter, MetricGauge, MetricHistogramTimedelta, MetricMeter

__all__ = [
    "LATENCY_BUCKETS",
    "WORKER_HISTOGRAMS",
    "ServerMetrics",
    "WorkerMetrics",
    "install_worker_meter",
    "server_metrics",
    "worker_metrics",
]

# Seconds: a provider RPC takes milliseconds, an apply up to minutes.
LATENCY_BUCKETS: Sequence[float] = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    300.0,
)


class ServerMetrics:
    """What the HTTP server counts; one instance per process (``server_metrics()``)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=self.registry)
        self.http_requests = Counter(
            "intent_http_requests",
            "HTTP requests by method, route template and status code.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.http_latency = Histogram(
            "intent_http_request_duration_seconds",
            "HTTP request latency by method and route template.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.mcp_requests = Counter(
            "intent_mcp_requests",
            "MCP requests by JSON-RPC method, tool (for tools/call) and status "
            "(ok, tool_error, or the JSON-RPC error code).",
            ["method", "tool", "status"],
            registry=self.registry,
        )
        self.mcp_latency = Histogram(
            "intent_mcp_request_duration_seconds",
            "MCP request latency by JSON-RPC method and tool.",
            ["method", "tool"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )


_server: ServerMetrics | None = None


def server_metrics() -> ServerMetrics:
    global _server
    if _server is None:
        _server = ServerMetrics()
    return _server


# Histograms recorded through the Temporal meter, and their buckets (the runtime's
# Prometheus exporter takes them as overrides; its defaults are too coarse).
WORKER_HISTOGRAMS: Mapping[str, Sequence[float]] = {
    name: LATENCY_BUCKETS
    for name in (
        "intent_plan_duration_seconds",
        "intent_policy_evaluation_duration_seconds",
        "intent_apply_duration_seconds",
        "intent_provider_rpc_duration_seconds",
    )
}

# Activity name -> the latency histogram its attempts feed. The policy check runs
# inside the plan stage, which records it under its own name.
ACTIVITY_LATENCY: Mapping[str, str] = {
    "plan_change": "intent_plan_duration_seconds",
    "evaluate_policies": "intent_policy_evaluation_duration_seconds",
    "apply_change": "intent_apply_duration_seconds",
}


class WorkerMetrics:
    """The worker's instruments on one Temporal ``MetricMeter``.

    Cheap to build; build it from the meter of the context you are in (workflow,
    activity, or the process meter for code outside both).
    """

    def __init__(self, meter: MetricMeter) -> None:
        self.meter = meter

    # Instruments are made on first use: an activity builds one of these per attempt.
    @cached_property
    def changes(self) -> MetricCounter:
        return self.meter.create_counter(
            "intent_changes_total", "Changes that ended, by final status."
        )

    @cached_property
    def operations(self) -> MetricCounter:
        return self.meter.create_counter(
            "intent_change_operations_total",
            "Operations of ended changes, by operation (create, update, ...) and status.",
        )

    @cached_property
    def policy_decisions(self) -> MetricCounter:
        return self.meter.create_counter(
            "intent_policy_decisions_total",
            "Policy verdicts on operations: allowed, denied or pending (review).",
        )

    @cached_property
    def lock_events(self) -> MetricCounter:
        return self.meter.create_counter(
            "intent_lock_events_total",
            "Project lock events: acquire, release, force_release, expire.",
        )

    @cached_property
    def lock_waits(self) -> MetricCounter:
        return self.meter.create_counter(
            "intent_lock_waits_total",
            "Lock requests refused because someone else holds the lease (they wait).",
        )

    @cached_property
    def lock_expiries(self) -> MetricCounter:
        return self.meter.create_counter(
            "intent_lock_expiries_total", "Project leases that lapsed after inactivity."
        )

    @cached_property
    def provider_processes(self) -> MetricGauge:
        return self.meter.create_gauge(
            "intent_provider_pool_processes", "Provider processes the pool keeps running."
        )

    @cached_property
    def provider_launches(self) -> MetricCounter:
        return self.meter.create_counter(
            "intent_provider_launches_total", "Provider processes started, by provider."
        )

    @cached_property
    def provider_crashes(self) -> MetricCounter:
        return self.meter.create_counter(
            "intent_provider_crashes_total",
            "Provider processes that died or stopped answering, by provider.",
        )

    @cached_property
    def provider_rpcs(self) -> MetricCounter:
        return self.meter.create_counter(
            "intent_provider_rpcs_total", "Provider RPCs, by provider, RPC and outcome."
        )

    @cached_property
    def provider_rpc_latency(self) -> MetricHistogramTimedelta:
        return self.meter.create_histogram_timedelta(
            "intent_provider_rpc_duration_seconds", "Provider RPC latency, by provider and RPC."
        )

    def latency(self, activity_type: str) -> MetricHistogramTimedelta | None:
        """The latency histogram an activity's attempts feed, if it has one."""
        name = ACTIVITY_LATENCY.get(activity_type)
        if name is None:
            return None
        return self.meter.create_histogram_timedelta(name, f"{activity_type} attempt latency.")


_worker_meter: MetricMeter = MetricMeter.noop
_worker: WorkerMetrics | None = None


def install_worker_meter(meter: MetricMeter) -> None:
    """The process meter for worker code outside workflows and activities."""
    global _worker_meter, _worker
    _worker_meter = meter
    _worker = None


def worker_metrics() -> WorkerMetrics:
    global _worker
    if _worker is None:
        _worker = WorkerMetrics(_worker_meter)
    return _worker
