"""Actors in updates are proven, not claimed: forged ones are refused by the workflow.

Everything here talks to Temporal directly, as someone who reaches its port would:
the updates below never pass through intent's server.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from temporalio.client import WorkflowFailureError, WorkflowUpdateFailedError

from store.secrets import SecretBox
from tests.changes.test_references_and_failures import POLICY_NO_RESOURCE, settled
from tests.support.stack import IntentStack
from workflows.actor import Actor
from workflows.assertions import (
    KEY_PURPOSE,
    ActorAssertionError,
    AssertionKeys,
    keys_for,
    question,
    register_keys,
    sign_actor,
    verify_actor,
)
from workflows.change import ChangeWorkflow
from workflows.lock import (
    AcquireRequest,
    ForceReleaseRequest,
    Holder,
    LockInput,
    LockState,
    ProjectLockWorkflow,
)
from workflows.lookup import ProviderLookupWorkflow
from workflows.models import ChangeInput, DecisionRequest, LookupInput, OperationRef, ProjectInfo

pytestmark = pytest.mark.slow

MALLORY = Actor(id="x", name="mallory", roles=["space-admin"], via="ui")


def _key(stack: IntentStack) -> bytes:
    return SecretBox.from_settings(stack.settings).derived_key(KEY_PURPOSE)


async def _history(http: Any, project: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = (
        await http.get(f"/api/v1/projects/{project}/history", params={"limit": 200})
    ).json()["entries"]
    return entries


async def _refused(handle: Any, update: Any, request: Any) -> str:
    with pytest.raises(WorkflowUpdateFailedError) as caught:
        await handle.execute_update(update, request)
    return str(getattr(caught.value.cause, "message", caught.value))


async def test_forged_decisions_are_refused_and_change_waits(aws_stack: IntentStack) -> None:
    alice = await aws_stack.http("alice")
    await alice.post("/api/v1/projects", json={"name": "forged"})
    await alice.post("/api/v1/projects/forged/lock")
    bucket = {"kind": "create", "resource_id": "b", "resource_type": "aws_s3_bucket"}
    created = await alice.post(
        "/api/v1/projects/forged/changes",
        json={"operations": [{**bucket, "config": {"bucket": "forged-b"}}], "wait_seconds": 60},
    )
    assert created.json()["status"] == "applied", created.text
    deleting = await alice.post(
        "/api/v1/projects/forged/changes",
        json={"operations": [{"kind": "delete", "resource_id": "b"}], "wait_seconds": 60},
    )
    change_id = deleting.json()["change_id"]
    assert deleting.json()["status"] == "awaiting_confirmation", deleting.text
    before = await _history(alice, "forged")

    handle = aws_stack.client.get_workflow_handle(change_id)
    # A made-up admin with no assertion at all.
    message = await _refused(handle, ChangeWorkflow.confirm, DecisionRequest(actor=MALLORY))
    assert "no signed actor assertion" in message
    # A genuine assertion, but for another workflow.
    other = sign_actor(
        _key(aws_stack),
        MALLORY,
        workflow_id="change-elsewhere",
        update="confirm",
        now=time.time(),
    )
    message = await _refused(
        handle, ChangeWorkflow.confirm, DecisionRequest(actor=MALLORY, assertion=other)
    )
    assert "change-elsewhere" in message
    # Signed with a key intent does not hold.
    foreign = sign_actor(
        b"k" * 32, MALLORY, workflow_id=change_id, update="confirm", now=time.time()
    )
    message = await _refused(
        handle, ChangeWorkflow.confirm, DecisionRequest(actor=MALLORY, assertion=foreign)
    )
    assert "does not verify" in message
    # Alice's own valid assertion cannot carry someone else's name.
    alice_actor = Actor(id="alice-id", name="alice", via="api")
    mine = sign_actor(
        _key(aws_stack), alice_actor, workflow_id=change_id, update="confirm", now=time.time()
    )
    message = await _refused(
        handle, ChangeWorkflow.confirm, DecisionRequest(actor=MALLORY, assertion=mine)
    )
    assert "not the one its assertion vouches for" in message
    # An expired one.
    stale = sign_actor(
        _key(aws_stack), MALLORY, workflow_id=change_id, update="confirm", now=time.time() - 3600
    )
    message = await _refused(
        handle, ChangeWorkflow.confirm, DecisionRequest(actor=MALLORY, assertion=stale)
    )
    assert "expired" in message

    view = (await alice.get(f"/api/v1/changes/{change_id}")).json()
    assert view["status"] == "awaiting_confirmation"
    assert await _history(alice, "forged") == before
    assert "forged-b" in {b["Name"] for b in _s3(aws_stack).list_buckets()["Buckets"]}

    # intent's own door still works.
    confirmed = await alice.post(f"/api/v1/changes/{change_id}/confirm")
    assert confirmed.status_code == 200, confirmed.text
    assert (await settled(alice, change_id))["status"] == "applied"


def _s3(stack: IntentStack) -> Any:
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=stack.settings.sandbox_endpoint,
        region_name="us-east-1",
        aws_access_key_id="sandbox",
        aws_secret_access_key="sandbox",
    )


async def test_temporal_ui_operators_only_retry_or_abandon_when_allowed(
    aws_stack: IntentStack,
) -> None:
    alice = await aws_stack.http("alice")
    await alice.post("/api/v1/projects", json={"name": "ui-ops"})
    await alice.post("/api/v1/projects/ui-ops/lock")
    failed = await alice.post(
        "/api/v1/projects/ui-ops/changes",
        json={
            "operations": [
                {
                    "kind": "create",
                    "resource_id": "p",
                    "resource_type": "aws_iam_policy",
                    "config": {"name": "ui-ops", "policy": POLICY_NO_RESOURCE},
                }
            ],
            "wait_seconds": 60,
        },
    )
    change_id = failed.json()["change_id"]
    assert (await settled(alice, change_id))["status"] == "failed"
    handle = aws_stack.client.get_workflow_handle(change_id)
    typed = DecisionRequest(operator="carol", comment="from the Temporal UI")

    # Off (the default outside `intent up`): refused, naming the setting.
    message = await _refused(handle, ChangeWorkflow.abandon, typed)
    assert "INTENT_TEMPORAL_UI_OPERATORS" in message

    queue = aws_stack.settings.temporal_task_queue
    registered = keys_for(queue)
    register_keys(queue, AssertionKeys(keys=registered.keys, temporal_ui_operators=True))
    try:
        await handle.execute_update(ChangeWorkflow.abandon, typed)
    finally:
        register_keys(queue, registered)
    final = await settled(alice, change_id)
    assert final["status"] == "abandoned"
    assert "temporal-ui (typed: carol, unverified)" in final["message"]
    rows = [
        e
        for e in await _history(alice, "ui-ops")
        if e.get("change_id") == change_id and e["status"] == "abandoned"
    ]
    assert rows and rows[0]["details"]["decided_by"] == "temporal-ui (typed: carol, unverified)"


async def test_confirm_from_the_temporal_ui_is_never_accepted(aws_stack: IntentStack) -> None:
    alice = await aws_stack.http("alice")
    await alice.post("/api/v1/projects", json={"name": "ui-confirm"})
    await alice.post("/api/v1/projects/ui-confirm/lock")
    bucket = {"kind": "create", "resource_id": "b", "resource_type": "aws_s3_bucket"}
    await alice.post(
        "/api/v1/projects/ui-confirm/changes",
        json={"operations": [{**bucket, "config": {"bucket": "ui-confirm-b"}}], "wait_seconds": 60},
    )
    deleting = await alice.post(
        "/api/v1/projects/ui-confirm/changes",
        json={"operations": [{"kind": "delete", "resource_id": "b"}], "wait_seconds": 60},
    )
    change_id = deleting.json()["change_id"]
    queue = aws_stack.settings.temporal_task_queue
    registered = keys_for(queue)
    register_keys(queue, AssertionKeys(keys=registered.keys, temporal_ui_operators=True))
    try:
        handle = aws_stack.client.get_workflow_handle(change_id)
        message = await _refused(handle, ChangeWorkflow.confirm, DecisionRequest(operator="carol"))
        assert "must come through intent" in message
    finally:
        register_keys(queue, registered)
    rejected = await alice.post(f"/api/v1/changes/{change_id}/reject")
    assert rejected.status_code == 200, rejected.text


async def test_forged_lock_updates_and_forged_change_starts(aws_stack: IntentStack) -> None:
    alice = await aws_stack.http("alice")
    project = (await alice.post("/api/v1/projects", json={"name": "forged-lock"})).json()
    await alice.post("/api/v1/projects/forged-lock/lock")
    lock = aws_stack.client.get_workflow_handle(f"lock-{project['id']}")
    mallory = Holder(id="x", name="mallory")
    message = await _refused(
        lock,
        ProjectLockWorkflow.force_release,
        ForceReleaseRequest(actor=mallory, roles=["space-admin"], reason="mine now"),
    )
    assert "no signed actor assertion" in message
    message = await _refused(lock, ProjectLockWorkflow.acquire, AcquireRequest(holder=mallory))
    assert "no signed actor assertion" in message
    held = (await alice.get("/api/v1/projects/forged-lock/lock")).json()
    assert held["holder"] == "alice"

    # A workflow started by hand with a made-up actor acts for nobody.
    forged_id = f"change-{project['id']}-01FORGED"
    handle = await aws_stack.client.start_workflow(
        ChangeWorkflow.run,
        ChangeInput(
            change_id=forged_id,
            project=ProjectInfo(id=project["id"], name="forged-lock"),
            actor=MALLORY,
            operations=[
                OperationRef(index=0, kind="delete", resource_id="b", resource_type="aws_s3_bucket")
            ],
        ),
        id=forged_id,
        task_queue=aws_stack.settings.temporal_task_queue,
    )
    view = await handle.result()
    assert view.status == "invalid"
    assert "not requested through intent" in view.message
    assert (await alice.get("/api/v1/projects/forged-lock/lock")).json()["holder"] == "alice"


async def test_replaying_a_change_or_a_lookup_on_temporals_port_acts_for_nobody(
    aws_stack: IntentStack,
) -> None:
    """Someone on Temporal's port copies what the server started: a dry run started again
    for real, a second execution of it, a data-source read with no signature, a lock
    workflow started with a holder of their choosing. None of it acts."""
    alice = await aws_stack.http("alice")
    project = (await alice.post("/api/v1/projects", json={"name": "replays"})).json()
    await alice.post("/api/v1/projects/replays/lock")
    dry = await alice.post(
        "/api/v1/projects/replays/changes",
        json={
            "operations": [
                {
                    "kind": "create",
                    "resource_id": "b",
                    "resource_type": "aws_s3_bucket",
                    "config": {"bucket": "replayed-bucket"},
                }
            ],
            "dry_run": True,
            "wait_seconds": 60,
        },
    )
    assert dry.json()["status"] == "planned", dry.text
    change_id = dry.json()["change_id"]
    original = await aws_stack.client.get_workflow_handle(change_id).fetch_history()
    started = next(
        e for e in original.events if e.HasField("workflow_execution_started_event_attributes")
    )
    payload = started.workflow_execution_started_event_attributes.input.payloads[0]
    converter = aws_stack.client.data_converter.payload_converter
    recorded: ChangeInput = converter.from_payload(payload, ChangeInput)
    assert recorded.assertion  # the server's signature rides along, visible in history

    for forged in (
        recorded.model_copy(update={"dry_run": False}),  # the dry run, for real
        recorded,  # the same change, a second execution
    ):
        handle = await aws_stack.client.start_workflow(
            ChangeWorkflow.run,
            forged,
            id=change_id,
            task_queue=aws_stack.settings.temporal_task_queue,
        )
        view = await handle.result()
        assert view.status == "invalid", view
        assert "refusing to act on it" in view.message
    assert "replayed-bucket" not in {b["Name"] for b in _s3(aws_stack).list_buckets()["Buckets"]}

    # A data-source read started by hand: no signature, nothing read.
    lookup = LookupInput(
        kind="read_data",
        project_id=project["id"],
        data_source="aws_caller_identity",
        provider="hashicorp/aws",
        config={},
    )
    with pytest.raises(WorkflowFailureError) as failed:
        await aws_stack.client.execute_workflow(
            ProviderLookupWorkflow.run,
            lookup,
            id="lookup-read_data-forged",
            task_queue=aws_stack.settings.temporal_task_queue,
        )
    cause = failed.value.cause
    assert "not started by intent" in str(getattr(cause, "cause", cause))

    # A lock workflow started afresh with a holder of the caller's choosing holds nothing.
    lock_id = f"lock-{project['id']}"
    await aws_stack.client.get_workflow_handle(lock_id).terminate("test: start it again")
    forged_lock = await aws_stack.client.start_workflow(
        ProjectLockWorkflow.run,
        LockInput(
            project_id=project["id"],
            project_name="replays",
            state=LockState(
                holder=Holder(id="x", name="mallory"),
                expires_at=datetime.now(UTC) + timedelta(hours=1),
            ),
        ),
        id=lock_id,
        task_queue=aws_stack.settings.temporal_task_queue,
    )
    lease = await forged_lock.query(ProjectLockWorkflow.lease)
    assert not lease.held and lease.holder is None


async def test_a_lifted_question_asks_nothing_else(aws_stack: IntentStack) -> None:
    """Someone on Temporal's port lifts a harmless schema lookup's signed input from
    history and starts it again as a data-source read of a project its asker cannot see
    (the same workflow id, so the signature's id matches): the signature covers the
    question, so nothing is read."""
    admin = await aws_stack.http("alice", ["space-admin"])
    assert (await admin.post("/api/v1/spaces", json={"name": "vault"})).is_success
    made = await admin.post("/api/v1/projects", json={"name": "vaulted", "space": "vault"})
    assert made.is_success, made.text
    nobody = await aws_stack.http("nobody", [])
    assert (await nobody.get("/api/v1/providers/hashicorp/aws")).is_success
    client = aws_stack.client
    lifted: tuple[str, LookupInput] | None = None
    async for run in client.list_workflows("WorkflowType = 'ProviderLookupWorkflow'"):
        history = await client.get_workflow_handle(run.id).fetch_history()
        started = history.events[0].workflow_execution_started_event_attributes
        (asked,) = await client.data_converter.decode(started.input.payloads, [LookupInput])
        if asked.kind == "provider":
            lifted = (run.id, asked)
            break
    assert lifted is not None
    workflow_id, asked = lifted
    forged = LookupInput(
        kind="read_data",
        project_id=made.json()["id"],
        data_source="aws_caller_identity",
        provider="hashicorp/aws",
        config={},
        assertion=asked.assertion,
    )
    # Its copy asks only the very question it was signed for (whose answer its history
    # already shows): anything else is refused before any provider or credential.
    with pytest.raises(WorkflowFailureError) as failed:
        await client.execute_workflow(
            ProviderLookupWorkflow.run,
            forged,
            id=workflow_id,
            task_queue=aws_stack.settings.temporal_task_queue,
        )
    cause = failed.value.cause
    assert "not started by intent" in str(getattr(cause, "cause", cause))
    keys = SecretBox.from_settings(aws_stack.settings).derived_keys(KEY_PURPOSE)

    def verify(input: LookupInput) -> None:
        verify_actor(
            keys,
            asked.assertion,
            workflow_id=workflow_id,
            update=question("lookup", input),
            now=time.time(),
        )

    verify(asked)
    with pytest.raises(ActorAssertionError, match="issued for"):
        verify(forged)
