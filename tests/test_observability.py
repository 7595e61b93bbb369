"""Metrics, traces and logs of a real stack (``intent up``) after a walkthrough-like run.

The run touches every metric family: MCP and HTTP calls, a lock wait (a second user
asks for the locked project), changes under an attached policy (plan, policy, apply),
a provider crash (the provider process is killed between changes), and a lease that
expires. The server's ``/metrics`` and the worker's metrics port are then scraped, the
spans sent to an in-process OTLP collector are followed from the MCP call to the
provider RPCs, and the JSON logs are read for request, change and trace ids.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import uuid
from pathlib import Path

import httpx
import pytest

from providers.models import InstalledProvider
from tests.api.mcp_client import mcp_client, text_of
from tests.changes.test_lifecycle import call
from tests.support.moto import MotoServer
from tests.support.otlp import otlp_collector
from tests.support.providers import provider_pids
from tests.support.stack import free_port
from tests.support.up import Up

pytestmark = pytest.mark.slow

ONLY_BUCKETS = """package spacelift

allow contains "buckets are fine" if input.resource.resource_type == "aws_s3_bucket"
deny contains "only buckets here" if input.resource.resource_type != "aws_s3_bucket"
"""

LEASE_SECONDS = 6

# Every family of issue 12's item 2 and the process that exports it.
SERVER_FAMILIES = (
    "intent_http_requests_total",
    "intent_http_request_duration_seconds_count",
    "intent_mcp_requests_total",
    "intent_mcp_request_duration_seconds_count",
)
WORKER_FAMILIES = (
    "intent_changes_total",
    "intent_change_operations_total",
    "intent_plan_duration_seconds_count",
    "intent_policy_evaluation_duration_seconds_count",
    "intent_apply_duration_seconds_count",
    "intent_policy_decisions_total",
    "intent_lock_events_total",
    "intent_lock_waits_total",
    "intent_lock_expiries_total",
    "intent_provider_pool_processes",
    "intent_provider_launches_total",
    "intent_provider_crashes_total",
    "intent_provider_rpcs_total",
    "intent_provider_rpc_duration_seconds_count",
    # The SDK's own, through the same runtime exporter.
    "temporal_workflow_completed",
    "temporal_activity_execution_latency_count",
)


def totals(text: str) -> dict[str, float]:
    """Sum of every sample of each metric name in a Prometheus text exposition."""
    found: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+(\S+)", line)
        if match:
            found[match[1]] = found.get(match[1], 0.0) + float(match[3])
    return found


def labelled(text: str, name: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(name + "{")]


def read_lines(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if line.strip()]


async def test_metrics_traces_and_logs_of_a_walkthrough(
    tmp_path: Path,
    moto_server: MotoServer,
    aws_provider: InstalledProvider,
    provider_runtime_dir: Path,
) -> None:
    # Providers run as INTENT_PROVIDER_USER: their sockets live where they can reach.
    runtime_dir = provider_runtime_dir / f"observed-{uuid.uuid4().hex[:8]}"
    runtime_dir.mkdir(mode=0o711)
    metrics_port = free_port()
    async with otlp_collector() as collector:
        up = Up(
            tmp_path / "data",
            env={
                "INTENT_OTLP_ENDPOINT": collector.endpoint,
                "OTEL_BSP_SCHEDULE_DELAY": "200",
                "INTENT_METRICS_PORT": str(metrics_port),
                "INTENT_LOG_FORMAT": "json",
                "INTENT_LOCK_LEASE_SECONDS": str(LEASE_SECONDS),
                "INTENT_SANDBOX_URL": moto_server.url,
                "INTENT_PROVIDER_MIRRORS": str(aws_provider.path.parents[5]),
                "INTENT_PROVIDER_RUNTIME_DIR": str(runtime_dir),
                "INTENT_REGISTRY_URL": f"http://127.0.0.1:{free_port()}",
            },
        )
        try:
            up.wait_ready()
            admin = up.api_key("ops", "space-admin")  # a machine identity (people make their own)
            bob = up.api_key("bob", "space-writer")
            mcp_url = f"{up.base}/mcp"
            async with mcp_client(mcp_url, admin) as client:
                await call(client, "project-create", {"name": "observed"})
                await call(client, "project-use", {"project": "observed"})
                await call(client, "policy-create", {"name": "only-buckets", "body": ONLY_BUCKETS})
                await call(
                    client, "policy-attach", {"policy": "only-buckets", "project": "observed"}
                )
                async with mcp_client(mcp_url, bob) as other:
                    refused = await other.call_tool("project-use", {"project": "observed"})
                    assert refused.is_error and "locked by ops" in text_of(refused)
                created = await call(
                    client,
                    "lifecycle-resources-create",
                    {
                        "resources": [
                            {
                                "resource_id": "logs",
                                "resource_type": "aws_s3_bucket",
                                "config": {"bucket": "observed-logs", "tags": {"Team": "ops"}},
                            }
                        ]
                    },
                )
                assert created["status"] == "applied", created
                change_id = created["change_id"]
                # The provider dies between two changes: the next one starts another.
                pids = provider_pids(runtime_dir)
                assert pids
                for pid in pids:
                    os.kill(pid, signal.SIGKILL)
                updated = await call(
                    client,
                    "lifecycle-resources-update",
                    {"resources": [{"resource_id": "logs", "config": {"tags": {"Team": "sre"}}}]},
                )
                assert updated["status"] == "applied", updated
                denied = await call(
                    client,
                    "lifecycle-resources-create",
                    {
                        "resources": [
                            {
                                "resource_id": "queue",
                                "resource_type": "aws_sqs_queue",
                                "config": {"name": "observed-queue"},
                            }
                        ]
                    },
                )
                assert denied["status"] == "denied", denied
            tags = moto_server.client("s3").get_bucket_tagging(Bucket="observed-logs")["TagSet"]
            assert {t["Key"]: t["Value"] for t in tags} == {"Team": "sre"}

            # No more calls from the holder (bob only looks; a holder's reads renew the
            # lease): the lease lapses and the lock workflow expires it.
            async with httpx.AsyncClient(
                base_url=up.base, headers={"Authorization": f"Bearer {bob}"}
            ) as http:
                for _ in range(60):
                    project = (await http.get("/api/v1/projects/observed")).json()
                    if not project["lock"]["holder"]:
                        break
                    await asyncio.sleep(0.5)
                assert not project["lock"]["holder"], project
                assert (await httpx.AsyncClient().get(f"{up.base}/metrics")).status_code == 401
                server_text = (await http.get("/metrics")).text
            async with httpx.AsyncClient() as http:
                worker_text = ""
                for _ in range(20):  # the expiry's counts reach the exporter shortly after
                    worker_text = (await http.get(f"http://127.0.0.1:{metrics_port}/metrics")).text
                    if totals(worker_text).get("intent_lock_expiries_total"):
                        break
                    await asyncio.sleep(0.5)

            server_totals, worker_totals = totals(server_text), totals(worker_text)
            for family in SERVER_FAMILIES:
                assert server_totals.get(family, 0) > 0, (family, server_text)
            for family in WORKER_FAMILIES:
                assert worker_totals.get(family, 0) > 0, (family, worker_text)
            assert any(
                'tool="lifecycle-resources-create"' in line and 'status="ok"' in line
                for line in labelled(server_text, "intent_mcp_requests_total")
            ), server_text
            assert any(
                'decision="denied"' in line
                for line in labelled(worker_text, "intent_policy_decisions_total")
            ), worker_text
            assert any(
                'status="denied"' in line for line in labelled(worker_text, "intent_changes_total")
            ), worker_text

            # One trace: the MCP call, the workflow, its activities, the provider RPCs.
            def linked() -> bool:
                names = {s.name for s in collector.spans}
                return {"RunActivity:apply_change", "provider ApplyResourceChange"} <= names

            await collector.wait_for(linked)
            apply_rpc = next(
                s
                for s in collector.spans
                if s.name == "provider ApplyResourceChange"
                and "tools/call lifecycle-resources-create"
                in {a.name for a in collector.ancestors(s)}
            )
            chain = collector.ancestors(apply_rpc)
            # The provider RPC, in the activity, scheduled by the workflow (on the worker),
            # started by the MCP call, within the HTTP request (on the server).
            assert [(a.name, a.service) for a in chain] == [
                ("RunActivity:apply_change", "intent-worker"),
                ("StartActivity:apply_change", "intent-worker"),
                ("StartWorkflow:ChangeWorkflow", "intent-server"),
                ("tools/call lifecycle-resources-create", "intent-server"),
                ("POST /mcp", "intent-server"),
            ], chain
            same_trace = [s for s in collector.spans if s.trace_id == apply_rpc.trace_id]
            services = {s.service for s in same_trace}
            assert services == {"intent-server", "intent-worker"}, services
            names = {s.name for s in same_trace}
            assert "RunActivity:plan_change" in names
            assert "provider PlanResourceChange" in names
        finally:
            assert up.stop() == 0, "".join(up.output)

    # JSON logs: request ids on the server, change and trace ids on the worker.
    server_lines = [json.loads(line) for line in read_lines(up.data_dir / "server.log")]
    worker_lines = [json.loads(line) for line in read_lines(up.data_dir / "worker.log")]
    assert any(line["request_id"] for line in server_lines)
    assert all(
        {"time", "level", "message", "request_id", "change_id", "trace_id"} <= line.keys()
        for line in server_lines + worker_lines
    )
    assert any(
        line["change_id"] == change_id and line["trace_id"] == apply_rpc.trace_id
        for line in worker_lines
    ), [line for line in worker_lines if line["change_id"]]
