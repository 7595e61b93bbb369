"""Multi-resource changes with references, and the failure hold (retry / abandon)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from tests.api.mcp_client import mcp_client, text_of
from tests.changes.test_lifecycle import bucket_names, call, start_project
from tests.support.moto import MotoServer
from tests.support.stack import IntentStack

pytestmark = pytest.mark.slow

POLICY_NO_RESOURCE = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject"}]}
)
POLICY_OK = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
    }
)


async def settled(http: httpx.AsyncClient, change_id: str) -> dict[str, Any]:
    for _ in range(600):
        body: dict[str, Any] = (await http.get(f"/api/v1/changes/{change_id}")).json()
        if body["status"] in {
            "applied",
            "failed",
            "awaiting_confirmation",
            "invalid",
            "denied",
            "rejected",
            "expired",
            "abandoned",
            "planned",
        }:
            return body
        await asyncio.sleep(0.1)
    raise AssertionError(f"change {change_id} did not settle")


async def test_reference_orders_apply_and_guards_deletes(
    aws_stack: IntentStack, moto_server: MotoServer
) -> None:
    token = await aws_stack.token("alice")
    async with mcp_client(aws_stack.mcp_url, token) as client:
        await start_project(client, "refs")
        # The dependent comes first in the request; the reference orders the apply.
        created = await call(
            client,
            "lifecycle-resources-create",
            {
                "resources": [
                    {
                        "resource_id": "versioning",
                        "resource_type": "aws_s3_bucket_versioning",
                        "config": {
                            "bucket": "${logs.id}",
                            "versioning_configuration": [{"status": "Enabled"}],
                        },
                    },
                    {
                        "resource_id": "logs",
                        "resource_type": "aws_s3_bucket",
                        "config": {"bucket": "refs-logs-bucket"},
                    },
                ]
            },
        )
        assert created["status"] == "applied", created
        planned_bucket = created["operations"][0]
        assert (
            "bucket" in planned_bucket["known_after_apply"] or planned_bucket["status"] == "applied"
        )
        versioning = moto_server.client("s3").get_bucket_versioning(Bucket="refs-logs-bucket")
        assert versioning["Status"] == "Enabled"

        deps = await call(client, "dependencies-get", {"resource_id": "versioning"})
        assert deps["depends_on"] == ["logs"]
        assert (await call(client, "dependencies-get", {"resource_id": "logs"}))["dependents"] == [
            "versioning"
        ]

        # The bucket alone cannot go: something that stays references it.
        refused = await call(client, "lifecycle-resources-delete", {"resource_ids": ["logs"]})
        assert refused["status"] == "invalid", refused
        assert "versioning" in refused["message"]
        assert "refs-logs-bucket" in bucket_names(moto_server)

        both = await call(
            client, "lifecycle-resources-delete", {"resource_ids": ["logs", "versioning"]}
        )
        assert both["status"] == "awaiting_confirmation"
        done = await call(client, "change-confirm", {"change_id": both["change_id"]})
        assert done["status"] == "applied", done
        assert "refs-logs-bucket" not in bucket_names(moto_server)

        history = await call(client, "history-list", {"change_id": both["change_id"], "limit": 50})
        applied = [e["resource"] for e in reversed(history["entries"]) if e["status"] == "applied"]
        assert applied == ["versioning", "logs"], applied  # reverse dependency order
        assert (await call(client, "state-list", {}))["resources"] == []


async def test_failed_apply_holds_then_retry_with_fix_completes(
    aws_stack: IntentStack, moto_server: MotoServer
) -> None:
    http = await aws_stack.http("alice")
    await http.post("/api/v1/projects", json={"name": "fails"})
    await http.post("/api/v1/projects/fails/lock")
    response = await http.post(
        "/api/v1/projects/fails/changes",
        json={
            "operations": [
                {
                    "kind": "create",
                    "resource_id": "ok",
                    "resource_type": "aws_s3_bucket",
                    "config": {"bucket": "fails-but-this-works"},
                },
                {
                    "kind": "create",
                    "resource_id": "reader",
                    "resource_type": "aws_iam_policy",
                    "config": {"name": "reader", "policy": POLICY_NO_RESOURCE},
                },
            ]
        },
    )
    assert response.status_code == 202, response.text
    change_id = response.json()["change_id"]
    held = await settled(http, change_id)
    assert held["status"] == "failed", held
    ops = {o["resource_id"]: o for o in held["operations"]}
    assert ops["ok"]["status"] == "applied"  # independent work is kept
    assert ops["reader"]["status"] == "failed"
    assert "MalformedPolicyDocument" in ops["reader"]["error"]
    assert "retry" in held["next_steps"]
    iam = moto_server.client("iam")
    assert not [
        p for p in iam.list_policies(Scope="Local")["Policies"] if p["PolicyName"] == "reader"
    ]

    # While it waits, nothing else may act on what it holds; other resources are free.
    clash = await http.post(
        "/api/v1/projects/fails/changes",
        json={
            "operations": [
                {
                    "kind": "create",
                    "resource_id": "reader",
                    "resource_type": "aws_s3_bucket",
                    "config": {"bucket": "x-y-z"},
                }
            ]
        },
    )
    assert clash.status_code == 409 and change_id in clash.json()["message"]
    other = await http.post(
        "/api/v1/projects/fails/changes",
        json={
            "operations": [
                {"kind": "update", "resource_id": "ok", "config": {"tags": {"free": "yes"}}}
            ],
            "wait_seconds": 60,
        },
    )
    assert other.status_code == 202 and other.json()["status"] == "applied", other.text

    # Someone else may not retry alice's change; a wrong patch target is refused.
    bob = await aws_stack.http("bob")
    assert (await bob.post(f"/api/v1/changes/{change_id}/retry")).status_code == 403
    sneaky = await bob.post(
        f"/api/v1/changes/{change_id}/retry",
        json={"config_patches": {"reader": {"name": "bobs-policy"}}},
    )
    assert sneaky.status_code == 403  # and the patch was not stored (checked below)
    wrong = await http.post(
        f"/api/v1/changes/{change_id}/retry", json={"config_patches": {"ok": {"bucket": "x"}}}
    )
    assert wrong.status_code == 422 and "did not fail" in wrong.json()["message"]

    # A fix that does not plan sends the change back to the hold, not to an end.
    wrong_fix = await http.post(
        f"/api/v1/changes/{change_id}/retry",
        json={"config_patches": {"reader": {"policy": POLICY_OK, "no_such_argument": 1}}},
    )
    assert wrong_fix.status_code == 200, wrong_fix.text
    again = await settled(http, change_id)
    assert again["status"] == "failed", again
    reader = next(o for o in again["operations"] if o["resource_id"] == "reader")
    assert "no_such_argument" in (reader["error"] or "")

    retried = await http.post(
        f"/api/v1/changes/{change_id}/retry",
        json={"config_patches": {"reader": {"no_such_argument": None}}, "comment": "fixed"},
    )
    assert retried.status_code == 200, retried.text
    final = await settled(http, change_id)
    assert final["status"] == "applied", final
    assert [p for p in iam.list_policies(Scope="Local")["Policies"] if p["PolicyName"] == "reader"]
    assert not [
        p for p in iam.list_policies(Scope="Local")["Policies"] if p["PolicyName"] == "bobs-policy"
    ]
    rows = (
        await http.get("/api/v1/projects/fails/history", params={"change_id": change_id})
    ).json()
    statuses = [(e["resource_id"], e["status"]) for e in rows["entries"]]
    assert ("reader", "failed") in statuses and ("reader", "applied") in statuses


async def test_failed_apply_can_be_abandoned(aws_stack: IntentStack) -> None:
    token = await aws_stack.token("alice")
    async with mcp_client(aws_stack.mcp_url, token) as client:
        await start_project(client, "abandon")
        failed = await call(
            client,
            "lifecycle-resources-create",
            {
                "resources": [
                    {
                        "resource_id": "bad",
                        "resource_type": "aws_iam_policy",
                        "config": {"name": "bad", "policy": POLICY_NO_RESOURCE},
                    }
                ]
            },
        )
        assert failed["status"] == "failed", failed
        result = await client.call_tool(
            "change-abandon", {"change_id": failed["change_id"], "comment": "not needed"}
        )
        assert not result.is_error, text_of(result)
        assert result.structured_content is not None
        assert result.structured_content["status"] == "abandoned"
        state = await call(client, "state-list", {})
        assert state["resources"] == []
        history = await call(client, "history-list", {"change_id": failed["change_id"]})
        assert history["entries"][0]["status"] == "abandoned"


async def test_change_terminated_outside_intent_stops_blocking(aws_stack: IntentStack) -> None:
    http = await aws_stack.http("alice")
    await http.post("/api/v1/projects", json={"name": "orphans"})
    await http.post("/api/v1/projects/orphans/lock")
    operation = {
        "kind": "create",
        "resource_id": "p",
        "resource_type": "aws_iam_policy",
        "config": {"name": "orphan", "policy": POLICY_NO_RESOURCE},
    }
    first = await http.post(
        "/api/v1/projects/orphans/changes", json={"operations": [operation], "wait_seconds": 60}
    )
    assert first.json()["status"] == "failed"
    change_id = first.json()["change_id"]
    # An operator terminates the held workflow in the Temporal UI.
    await aws_stack.client.get_workflow_handle(change_id).terminate("operator cleanup")
    again = await http.post(
        "/api/v1/projects/orphans/changes",
        json={
            "operations": [{**operation, "config": {"name": "orphan", "policy": POLICY_OK}}],
            "wait_seconds": 60,
        },
    )
    assert again.status_code == 202 and again.json()["status"] == "applied", again.text
    rows = (await http.get("/api/v1/changes", params={"project": "orphans"})).json()
    closed = next(r for r in rows if r["change_id"] == change_id)
    assert closed["status"] == "abandoned" and "terminated" in closed["message"]
