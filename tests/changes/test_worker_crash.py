"""A worker dies mid-apply; another finishes the change without duplicating anything.

The worst moment is rehearsed on purpose: the first worker runs with the failure drill
``INTENT_FAULT_APPLY_PAUSE_SECONDS``, so it is killed after the provider created the
bucket and before the result was committed. The replacement worker must adopt the
bucket (the journal shows the earlier attempt started), not create it again.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from tests.changes.test_references_and_failures import settled
from tests.support.moto import MotoServer
from tests.support.stack import IntentStack, run_stack

pytestmark = pytest.mark.slow


def spawn_worker(
    stack: IntentStack, env: WorkflowEnvironment, **extra: str
) -> subprocess.Popen[bytes]:
    s = stack.settings
    environ = {k: v for k, v in os.environ.items() if not k.startswith("INTENT_")}
    environ.update(
        {
            "INTENT_DATA_DIR": str(s.data_dir),
            "INTENT_DATABASE_URL": s.resolved_database_url,
            "INTENT_TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
            "INTENT_TEMPORAL_TASK_QUEUE": s.temporal_task_queue,
            "INTENT_SANDBOX": "true",
            "INTENT_SANDBOX_URL": s.sandbox_endpoint,
            "INTENT_PROVIDER_MIRRORS": ":".join(str(p) for p in s.provider_mirrors),
            "INTENT_PROVIDER_DIR": str(s.resolved_provider_dir),
            "INTENT_PROVIDER_RUNTIME_DIR": str(s.provider_runtime_dir),
            "INTENT_LOG_LEVEL": "WARNING",
            **extra,
        }
    )
    log = open(s.data_dir / f"worker-{len(extra)}.log", "ab")  # noqa: SIM115 - child's
    return subprocess.Popen(
        [sys.executable, "-m", "cli", "worker"], env=environ, stdout=log, stderr=log
    )


async def wait_for(predicate: Any, seconds: float, what: str) -> None:
    for _ in range(int(seconds * 10)):
        if predicate():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


async def test_killed_worker_is_replaced_and_nothing_is_duplicated(
    temporal_env: WorkflowEnvironment,
    tmp_path: Path,
    moto_server: MotoServer,
    aws_settings: dict[str, Any],
) -> None:
    overrides = dict(aws_settings)
    async with run_stack(temporal_env, tmp_path, worker=False, **overrides) as stack:
        s3 = moto_server.client("s3")
        doomed = spawn_worker(stack, temporal_env, INTENT_FAULT_APPLY_PAUSE_SECONDS="120")
        replacement: subprocess.Popen[bytes] | None = None
        try:
            http = await stack.http("alice")
            await http.post("/api/v1/projects", json={"name": "crash"})
            await http.post("/api/v1/projects/crash/lock")
            response = await http.post(
                "/api/v1/projects/crash/changes",
                json={
                    "operations": [
                        {
                            "kind": "create",
                            "resource_id": "survivor",
                            "resource_type": "aws_s3_bucket",
                            "config": {"bucket": "crash-survivor", "tags": {"drill": "yes"}},
                        }
                    ]
                },
            )
            assert response.status_code == 202, response.text
            change_id = response.json()["change_id"]

            def created() -> bool:
                names = {b["Name"] for b in s3.list_buckets()["Buckets"]}
                return "crash-survivor" in names

            # The provider created the bucket; the worker now sits before its commit.
            await wait_for(created, 120, "the bucket to exist in moto")
            status = (await http.get(f"/api/v1/changes/{change_id}")).json()["status"]
            assert status == "applying"
            missing = await http.get("/api/v1/projects/crash/resources/survivor")
            assert missing.status_code == 404  # created in the cloud, not yet in state
            doomed.send_signal(signal.SIGKILL)
            doomed.wait(10)

            replacement = spawn_worker(stack, temporal_env)
            final = await settled(http, change_id)
            assert final["status"] == "applied", final

            buckets = [b["Name"] for b in s3.list_buckets()["Buckets"]]
            assert buckets.count("crash-survivor") == 1
            state = (await http.get("/api/v1/projects/crash/resources/survivor")).json()
            assert state["state"]["bucket"] == "crash-survivor"
            tags = s3.get_bucket_tagging(Bucket="crash-survivor")["TagSet"]
            assert (
                {t["Key"]: t["Value"] for t in tags} == state["state"]["tags"] == {"drill": "yes"}
            )
            history = (
                await http.get("/api/v1/projects/crash/history", params={"change_id": change_id})
            ).json()["entries"]
            applied = [e for e in history if e["status"] == "applied"]
            assert len(applied) == 1, history  # one commit, despite two attempts
        finally:
            for process in (doomed, replacement):
                if process is not None and process.poll() is None:
                    process.terminate()
                    process.wait(20)
