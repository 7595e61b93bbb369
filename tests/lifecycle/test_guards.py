"""What a TTL, a drift schedule and a project deletion may not be used for.

- A TTL schedules the deletion of every resource, confirmed by the TTL itself: setting
  one needs what deleting and confirming would (not only ``intent-project:update``).
- Out-of-range values are clear errors, and nothing is half-applied.
- The TTL clock follows the database, not a signal sent on Temporal's port.
- A project is not deleted under a change that may still act.
"""

from __future__ import annotations

import asyncio

from store.models import Project
from tests.changes.test_references_and_failures import settled
from tests.support.stack import IntentStack
from workflows.models import TtlReschedule, ttl_workflow_id
from workflows.ttl import ProjectTTLWorkflow


async def test_a_ttl_needs_the_rights_its_cleanup_uses(stack: IntentStack) -> None:
    admin = await stack.http("root-admin", ["space-admin"])
    made = await admin.post(
        "/api/v1/roles",
        json={"name": "labeler", "actions": ["intent-project:read", "intent-project:update"]},
    )
    assert made.status_code == 201, made.text
    await stack.token("carol", [])
    bound = await admin.post(
        "/api/v1/spaces/root/bindings", json={"role": "labeler", "subject": "carol"}
    )
    assert bound.status_code == 201, bound.text
    alice, carol = await stack.http("alice"), await stack.http("carol", [])
    assert (await alice.post("/api/v1/projects", json={"name": "kept"})).is_success

    labelled = await carol.patch("/api/v1/projects/kept", json={"labels": ["team-a"]})
    assert labelled.is_success, labelled.text  # an update is theirs to make
    refused = await carol.put("/api/v1/projects/kept/ttl", json={"ttl": "2h"})
    assert refused.status_code == 403
    assert "intent-resource:delete" in refused.json()["message"]
    assert (await alice.get("/api/v1/projects/kept")).json()["expires_at"] is None
    # A writer deletes and confirms their own deletes: theirs to schedule.
    allowed = await alice.put("/api/v1/projects/kept/ttl", json={"ttl": "2h"})
    assert allowed.is_success, allowed.text


async def test_out_of_range_ttls_and_intervals_are_clear_and_change_nothing(
    stack: IntentStack,
) -> None:
    alice = await stack.http("alice")
    assert (await alice.post("/api/v1/projects", json={"name": "ranges"})).is_success
    for answer in (
        await alice.put("/api/v1/projects/ranges/ttl", json={"ttl": "99999999999w"}),
        await alice.post("/api/v1/projects", json={"name": "forever", "ttl": "99999999999w"}),
    ):
        assert answer.status_code == 422, answer.text
        assert "beyond any calendar" in answer.json()["message"]
    assert (await alice.get("/api/v1/projects/forever")).status_code == 404
    for interval in (1e300, 1e9):
        rare = await alice.put(
            "/api/v1/projects/ranges/drift-schedule", json={"interval_seconds": interval}
        )
        assert rare.status_code == 422, rare.text
        assert "too rare" in rare.json()["message"]
    async with stack.db.session() as session:
        row = await session.get(Project, (await alice.get("/api/v1/projects/ranges")).json()["id"])
    assert row is not None and row.drift_interval_seconds is None


async def test_a_signal_on_temporals_port_does_not_move_a_ttl(stack: IntentStack) -> None:
    alice = await stack.http("alice")
    made = (await alice.post("/api/v1/projects", json={"name": "timed", "ttl": "2h"})).json()
    handle = stack.client.get_workflow_handle_for(
        ProjectTTLWorkflow.run, ttl_workflow_id(made["id"])
    )
    await handle.signal(ProjectTTLWorkflow.reschedule, TtlReschedule(expires_at=None))
    for _ in range(50):
        status = await handle.query(ProjectTTLWorkflow.status)
        if status.expires_at is not None and status.stage == "waiting":
            break
        await asyncio.sleep(0.1)
    # It looked again, and the database still says 2 h.
    assert status.stage == "waiting" and status.expires_at is not None
    assert status.expires_at.isoformat().startswith(made["expires_at"][:19])


async def test_a_project_is_not_deleted_under_a_running_change(aws_stack: IntentStack) -> None:
    alice = await aws_stack.http("ada", ["space-admin"])
    assert (await alice.post("/api/v1/projects", json={"name": "busy"})).is_success
    assert (await alice.post("/api/v1/projects/busy/lock")).is_success
    created = await alice.post(
        "/api/v1/projects/busy/changes",
        json={
            "wait_seconds": 120,
            "operations": [
                {
                    "kind": "create",
                    "resource_id": "p",
                    "resource_type": "aws_ssm_parameter",
                    "config": {"name": "/busy/p", "type": "String", "value": "v"},
                }
            ],
        },
    )
    assert created.json()["status"] == "applied", created.text
    waiting = await alice.post(
        "/api/v1/projects/busy/changes",
        json={"wait_seconds": 120, "operations": [{"kind": "delete", "resource_id": "p"}]},
    )
    change_id = waiting.json()["change_id"]
    assert (await settled(alice, change_id))["status"] == "awaiting_confirmation"
    refused = await alice.delete("/api/v1/projects/busy")
    assert refused.status_code == 409, refused.text
    assert f"change {change_id}" in refused.json()["message"]
    assert "has not finished" in refused.json()["message"]
    assert (await alice.post(f"/api/v1/changes/{change_id}/confirm", json={})).is_success
    assert (await settled(alice, change_id))["status"] == "applied"
    assert (await alice.delete("/api/v1/projects/busy")).status_code == 204
