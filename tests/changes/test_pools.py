"""Worker pools: a project's provider work runs on its pool's workers, and a pool nobody
serves says so (status, /healthz) instead of a silent wait.

The real stack: Temporal dev server, the real AWS provider, moto; the pool's worker is a
second, in-process worker serving only ``intent-pool-<name>``, started late on purpose.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from tests.support.moto import MotoServer
from tests.support.stack import IntentStack, run_stack
from worker import build_worker, worker_runtime

pytestmark = pytest.mark.slow

BUCKET = "pool-edge-bucket"


async def _create(http: httpx.AsyncClient, project: str, bucket: str) -> dict[str, Any]:
    response = await http.post(
        f"/api/v1/projects/{project}/changes",
        json={
            "operations": [
                {
                    "kind": "create",
                    "resource_id": "b",
                    "resource_type": "aws_s3_bucket",
                    "config": {"bucket": bucket},
                }
            ],
            "wait_seconds": 2,
        },
    )
    assert response.status_code in (200, 201, 202), response.text
    body: dict[str, Any] = response.json()
    return body


async def _project_on_pool(stack: IntentStack, name: str, pool: str) -> httpx.AsyncClient:
    root = await stack.http("root", ["space-admin"])
    alice = await stack.http("alice")
    await alice.post("/api/v1/projects", json={"name": name})
    # Routing a project's credentials to other machines is an admin's decision.
    refused = await alice.put(f"/api/v1/projects/{name}/pool", json={"pool": pool})
    assert refused.status_code == 403, refused.text
    routed = await root.put(f"/api/v1/projects/{name}/pool", json={"pool": pool})
    assert routed.status_code == 200, routed.text
    assert (await alice.get(f"/api/v1/projects/{name}")).json()["pool"] == pool
    assert (await alice.post(f"/api/v1/projects/{name}/lock")).status_code == 200
    return alice


async def test_a_pool_worker_started_after_the_change_picks_it_up(
    temporal_env: WorkflowEnvironment,
    tmp_path: Path,
    aws_settings: dict[str, Any],
    moto_server: MotoServer,
) -> None:
    async with run_stack(temporal_env, tmp_path, **aws_settings) as stack:
        alice = await _project_on_pool(stack, "edge-project", "edge")
        health = (await alice.get("/healthz")).json()
        assert health["status"] == "degraded"
        assert "intent worker --pool edge" in health["pools"]["edge"]

        submitted = await _create(alice, "edge-project", BUCKET)
        change_id = submitted["change_id"]
        assert submitted["status"] == "planning", submitted
        assert any("no worker of pool edge" in w for w in submitted["waiting_for"]), submitted
        assert BUCKET not in _buckets(moto_server)

        pool_settings = stack.settings.model_copy(update={"worker_pool": "edge"})
        async with (
            worker_runtime(stack.client, pool_settings, stack.db) as runtime,
            build_worker(stack.client, pool_settings, stack.db, runtime),
        ):
            final = await _settled(alice, change_id)
            assert final["status"] == "applied", final
            assert BUCKET in _buckets(moto_server)
            pools = (await alice.get("/api/v1/pools")).json()
            assert pools == [
                {
                    "pool": "edge",
                    "task_queue": "intent-pool-edge",
                    "workers": 1,
                    "projects": ["edge-project"],
                }
            ]
            assert (await alice.get("/healthz")).json()["pools"] == {"edge": "ok"}


async def test_a_pool_nobody_serves_ends_the_change_saying_so(
    temporal_env: WorkflowEnvironment, tmp_path: Path, aws_settings: dict[str, Any]
) -> None:
    async with run_stack(temporal_env, tmp_path, pool_wait_seconds=3, **aws_settings) as stack:
        alice = await _project_on_pool(stack, "lonely", "nowhere")
        submitted = await _create(alice, "lonely", "pool-lonely-bucket")
        final = await _settled(alice, submitted["change_id"])
        assert final["status"] == "invalid", final
        assert "no worker of this project's pool picked up" in final["message"]
        assert "intent worker --pool" in final["message"]


def _buckets(moto: MotoServer) -> set[str]:
    return {b["Name"] for b in moto.client("s3").list_buckets()["Buckets"]}


async def _settled(http: httpx.AsyncClient, change_id: str) -> dict[str, Any]:
    for _ in range(300):
        body: dict[str, Any] = (await http.get(f"/api/v1/changes/{change_id}")).json()
        if body["status"] not in ("planning", "applying"):
            return body
        await asyncio.sleep(0.1)
    raise AssertionError(f"change {change_id} did not settle: {body}")
