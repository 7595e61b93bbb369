"""Drift: objects changed or deleted outside intent are found, marked and recorded, by
the project's schedule without anyone asking. Real provider, moto as AWS."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from tests.api.mcp_client import mcp_client
from tests.changes.test_lifecycle import call, start_project
from tests.support.moto import MotoServer
from tests.support.stack import IntentStack, run_stack

pytestmark = pytest.mark.slow


@pytest_asyncio.fixture
async def drift_stack(
    temporal_env: WorkflowEnvironment, tmp_path: Path, aws_settings: dict[str, Any]
) -> AsyncIterator[IntentStack]:
    """The AWS stack with drift checks allowed every couple of seconds."""
    async with run_stack(
        temporal_env, tmp_path, **aws_settings, drift_min_interval_seconds=1.0
    ) as running:
        yield running


async def create_bucket_and_parameter(stack: IntentStack, project: str) -> None:
    async with mcp_client(stack.mcp_url, await stack.token("alice")) as client:
        await start_project(client, project)
        created = await call(
            client,
            "lifecycle-resources-create",
            {
                "resources": [
                    {
                        "resource_id": "b",
                        "resource_type": "aws_s3_bucket",
                        "config": {"bucket": f"{project}-b", "tags": {"Team": "web"}},
                    },
                    {
                        "resource_id": "p",
                        "resource_type": "aws_ssm_parameter",
                        "config": {"name": f"/{project}/p", "type": "String", "value": "v"},
                    },
                ]
            },
        )
        assert created["status"] == "applied", created


def tamper(moto: MotoServer, project: str) -> None:
    """Change a tag and delete a parameter directly, as someone outside intent would."""
    moto.client("s3").put_bucket_tagging(
        Bucket=f"{project}-b", Tagging={"TagSet": [{"Key": "Team", "Value": "ops"}]}
    )
    moto.client("ssm").delete_parameter(Name=f"/{project}/p")


async def drifted(http: httpx.AsyncClient, project: str, seconds: float) -> dict[str, Any]:
    """state-list's drift marks, once both resources carry one (or the time is up)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        listed = (await http.get(f"/api/v1/projects/{project}/resources")).json()
        marks = {r["resource_id"]: r["drift"] for r in listed["resources"]}
        if all(marks.values()) or asyncio.get_running_loop().time() > deadline:
            return marks
        await asyncio.sleep(0.5)


async def test_the_schedule_finds_drift_without_a_call(
    drift_stack: IntentStack, moto_server: MotoServer
) -> None:
    await create_bucket_and_parameter(drift_stack, "scheduled")
    alice = await drift_stack.http("alice")
    turned_on = await alice.put(
        "/api/v1/projects/scheduled/drift-schedule", json={"interval_seconds": 2}
    )
    assert turned_on.status_code == 200, turned_on.text
    schedule_id = turned_on.json()["schedule_id"]
    described = await drift_stack.client.get_schedule_handle(schedule_id).describe()
    assert described.schedule.spec.intervals[0].every.total_seconds() == 2

    # In sync: a check finds nothing and marks nothing.
    await asyncio.sleep(5)
    in_sync = await drifted(alice, "scheduled", 0)
    assert list(in_sync.values()) == [None, None], in_sync

    tamper(moto_server, "scheduled")
    marks = await drifted(alice, "scheduled", 60)
    assert marks["p"] is not None and marks["p"]["deleted"] is True
    assert marks["b"] is not None and marks["b"]["deleted"] is False
    tags = {c["attribute"]: (c["before"], c["after"]) for c in marks["b"]["changes"]}
    assert tags['tags["Team"]'] == ("web", "ops")

    # Recorded once per finding, by the schedule, however often it runs.
    await asyncio.sleep(5)
    history = (await alice.get("/api/v1/projects/scheduled/history")).json()["entries"]
    rows = [e for e in history if e["operation"] == "drift"]
    assert sorted((e["resource_id"], e["status"]) for e in rows) == [
        ("b", "drifted"),
        ("p", "deleted outside"),
    ]
    assert {e["actor"] for e in rows} == {"drift schedule"}
    # Nothing in the cloud or in state was changed by the check.
    state = (await alice.get("/api/v1/projects/scheduled/resources/b")).json()["state"]
    assert state["tags"] == {"Team": "web"}

    # Changing the schedule is a project update; off removes it.
    reader = await drift_stack.http("rita", roles=["reader"])
    refused = await reader.put("/api/v1/projects/scheduled/drift-schedule", json={})
    assert refused.status_code == 403 and "intent-project:update" in refused.text
    too_often = await alice.put(
        "/api/v1/projects/scheduled/drift-schedule", json={"interval_seconds": 0.5}
    )
    assert too_often.status_code == 422 and "INTENT_DRIFT_MIN_INTERVAL" in too_often.text
    off = await alice.put("/api/v1/projects/scheduled/drift-schedule", json={})
    assert off.status_code == 200 and off.json()["interval_seconds"] is None
    with pytest.raises(RPCError):
        await drift_stack.client.get_schedule_handle(schedule_id).describe()


async def test_refresh_reports_changes_and_deletions_and_marks_them(
    aws_stack: IntentStack, moto_server: MotoServer
) -> None:
    await create_bucket_and_parameter(aws_stack, "refreshed")
    tamper(moto_server, "refreshed")
    async with mcp_client(aws_stack.mcp_url, await aws_stack.token("alice")) as client:
        # No resource named: the whole project, read concurrently.
        report = await call(client, "lifecycle-resources-refresh", {})
        assert report["status"] == "applied", report
        ops = {op["resource_id"]: op for op in report["operations"]}
        assert ops["b"]["action"] == "refresh"
        assert ops["b"]["changes"]["tags"] == {"before": {"Team": "web"}, "after": {"Team": "ops"}}
        assert ops["p"]["action"] == "gone" and "deleted outside intent" in ops["p"]["warnings"][0]

        listed = {r["resource_id"]: r for r in (await call(client, "state-list", {}))["resources"]}
        assert listed["p"]["status"] == "missing" and listed["p"]["drift"]["deleted"] is True
        drift = {c["attribute"]: c for c in listed["b"]["drift"]["changes"]}
        assert (drift['tags["Team"]']["before"], drift['tags["Team"]']["after"]) == ("web", "ops")
        history = await call(client, "history-list", {"resource_id": "b"})
        refreshed = next(e for e in history["entries"] if e["what"] == "resource refresh")
        assert any(c["attribute"] == 'tags["Team"]' for c in refreshed["changes"])

        # The state now says what is there; applying the config again puts it back, and
        # the missing parameter is created again. The marks go.
        restored = await call(
            client,
            "lifecycle-resources-update",
            {"resources": [{"resource_id": "b", "config": {}}, {"resource_id": "p", "config": {}}]},
        )
        ops = {op["resource_id"]: op for op in restored["operations"]}
        assert (ops["b"]["action"], ops["p"]["action"]) == ("update", "create"), restored
        listed = {r["resource_id"]: r for r in (await call(client, "state-list", {}))["resources"]}
        assert listed["b"]["drift"] is None and listed["p"]["drift"] is None
        assert listed["p"]["status"] == "active"
    assert moto_server.client("ssm").get_parameter(Name="/refreshed/p")["Parameter"]["Value"] == "v"
    tags = moto_server.client("s3").get_bucket_tagging(Bucket="refreshed-b")["TagSet"]
    assert tags == [{"Key": "Team", "Value": "web"}]
