"""Confirmations expire; and the whole change flow on PostgreSQL, not only SQLite."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from store.db import Database
from tests.api.mcp_client import mcp_client
from tests.changes.test_lifecycle import bucket_names, bucket_tags, call, start_project
from tests.changes.test_references_and_failures import settled
from tests.support.moto import MotoServer
from tests.support.postgres import PostgresServer
from tests.support.stack import run_stack

pytestmark = pytest.mark.slow


async def test_unconfirmed_delete_expires(
    temporal_env: WorkflowEnvironment,
    tmp_path: Path,
    moto_server: MotoServer,
    aws_settings: dict[str, Any],
) -> None:
    overrides = dict(aws_settings)
    overrides["confirmation_timeout_seconds"] = 2.0
    async with run_stack(temporal_env, tmp_path, **overrides) as stack:
        http = await stack.http("alice")
        await http.post("/api/v1/projects", json={"name": "expiring"})
        await http.post("/api/v1/projects/expiring/lock")
        create = await http.post(
            "/api/v1/projects/expiring/changes",
            json={
                "operations": [
                    {
                        "kind": "create",
                        "resource_id": "b",
                        "resource_type": "aws_s3_bucket",
                        "config": {"bucket": "expiring-bucket"},
                    }
                ]
            },
        )
        assert (await settled(http, create.json()["change_id"]))["status"] == "applied"
        delete = await http.post(
            "/api/v1/projects/expiring/changes",
            json={"operations": [{"kind": "delete", "resource_id": "b"}], "wait_seconds": 10},
        )
        body = delete.json()
        assert body["status"] == "awaiting_confirmation", body
        for _ in range(100):  # the 2 s confirmation window passes
            body = (await http.get(f"/api/v1/changes/{body['change_id']}")).json()
            if body["status"] != "awaiting_confirmation":
                break
            await asyncio.sleep(0.1)
        assert body["status"] == "expired", body
        assert "nobody confirmed" in body["message"]
        assert "expiring-bucket" in bucket_names(moto_server)
        late = await http.post(f"/api/v1/changes/{body['change_id']}/confirm")
        assert late.status_code == 409
        rows = (
            await http.get(
                "/api/v1/projects/expiring/history", params={"change_id": body["change_id"]}
            )
        ).json()["entries"]
        assert [r["status"] for r in rows] == ["expired", "planned"]


async def test_waiting_change_keeps_the_lease_alive(
    temporal_env: WorkflowEnvironment,
    tmp_path: Path,
    moto_server: MotoServer,
    aws_settings: dict[str, Any],
) -> None:
    overrides = {**aws_settings, "lock_lease_seconds": 2.0}
    async with run_stack(temporal_env, tmp_path, **overrides) as stack:
        http = await stack.http("alice")
        await http.post("/api/v1/projects", json={"name": "patient"})
        await http.post("/api/v1/projects/patient/lock")
        create = await http.post(
            "/api/v1/projects/patient/changes",
            json={
                "operations": [
                    {
                        "kind": "create",
                        "resource_id": "b",
                        "resource_type": "aws_s3_bucket",
                        "config": {"bucket": "patient-bucket"},
                    }
                ],
                "wait_seconds": 60,
            },
        )
        assert create.json()["status"] == "applied"
        delete = await http.post(
            "/api/v1/projects/patient/changes",
            json={"operations": [{"kind": "delete", "resource_id": "b"}], "wait_seconds": 30},
        )
        change_id = delete.json()["change_id"]
        # Three lease lengths pass with nobody calling: the waiting change keeps it.
        await asyncio.sleep(6)
        lock = (await http.get("/api/v1/projects/patient/lock")).json()
        assert lock["locked"] and lock["holder"] == "alice", lock
        confirmed = await http.post(f"/api/v1/changes/{change_id}/confirm")
        assert confirmed.status_code == 200
        assert (await settled(http, change_id))["status"] == "applied"
        assert "patient-bucket" not in bucket_names(moto_server)


@pytest.mark.postgres
async def test_change_flow_on_postgresql(
    temporal_env: WorkflowEnvironment,
    tmp_path: Path,
    moto_server: MotoServer,
    aws_settings: dict[str, Any],
    postgres_server: PostgresServer,
) -> None:
    url = postgres_server.create_database(f"flow_{uuid.uuid4().hex[:10]}")
    db = Database(url)
    await db.migrate()
    overrides = dict(aws_settings)
    try:
        async with run_stack(temporal_env, tmp_path, db=db, database_url=url, **overrides) as stack:
            token = await stack.token("alice")
            async with mcp_client(stack.mcp_url, token) as client:
                await start_project(client, "on-postgres")
                created = await call(
                    client,
                    "lifecycle-resources-create",
                    {
                        "resources": [
                            {
                                "resource_id": "bucket",
                                "resource_type": "aws_s3_bucket",
                                "config": {"bucket": "pg-bucket", "tags": {"db": "postgres"}},
                            },
                            {
                                "resource_id": "versioning",
                                "resource_type": "aws_s3_bucket_versioning",
                                "config": {
                                    "bucket": "${bucket.id}",
                                    "versioning_configuration": [{"status": "Enabled"}],
                                },
                            },
                        ]
                    },
                )
                assert created["status"] == "applied", created
                assert bucket_tags(moto_server, "pg-bucket") == {"db": "postgres"}
                updated = await call(
                    client,
                    "lifecycle-resources-update",
                    {"resources": [{"resource_id": "bucket", "config": {"tags": {"db": "pg"}}}]},
                )
                assert updated["status"] == "applied", updated
                assert bucket_tags(moto_server, "pg-bucket") == {"db": "pg"}
                waiting = await call(
                    client, "lifecycle-resources-delete", {"resource_ids": ["bucket", "versioning"]}
                )
                done = await call(client, "change-confirm", {"change_id": waiting["change_id"]})
                assert done["status"] == "applied", done
                assert "pg-bucket" not in bucket_names(moto_server)
                history = await call(client, "history-list", {"limit": 100})
                assert sum(e["status"] == "applied" for e in history["entries"]) == 5
    finally:
        await db.dispose()
