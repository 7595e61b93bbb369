"""``ChangeWorkflow`` in Temporal's time-skipping test server, with stub activities.

The fast tier: every path of the workflow's orchestration (allow, deny, pending review,
confirm, reject, expiry, apply failure, retry, abandon, continue-as-new, watchers) in
seconds, with stubs that answer for the plan, apply, bookkeeping and lease rooms. The
real-stack tests (tests/changes) run the same paths through real providers.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import pytest
from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from workflows.actor import Actor
from workflows.assertions import AssertionKeys, register_keys, sign_actor
from workflows.change import CHANGE_FORBIDDEN, ChangeWorkflow
from workflows.models import (
    Action,
    ApplyInput,
    ApplyOutcome,
    ApplyResult,
    ChangeInput,
    ChangeView,
    CheckLeaseInput,
    DecisionRequest,
    DiagnosticView,
    OperationKind,
    OperationRef,
    PlanInput,
    PlannedOperation,
    PlanResult,
    PolicyVerdictView,
    ProjectInfo,
    RetryRequest,
    StageInput,
    WatchRequest,
)

KEY = b"fast-tier-key-0123456789abcdef!!"
# Actors as the server signs them for the project's space: their actions there.
ALICE = Actor(
    id="u-alice",
    name="alice",
    roles=["operator"],
    via="api",
    actions=["intent-change:confirm", "intent-change:retry", "intent-change:abandon"],
)
REVIEWER = Actor(
    id="u-rita", name="rita", roles=["reviewer"], via="api", actions=["intent-change:review"]
)
PROJECT = ProjectInfo(id="p1", name="demo")

Plan = Callable[[PlanInput], PlanResult]
Apply = Callable[[ApplyInput], ApplyOutcome]


def planned(
    index: int,
    action: Action = "create",
    *,
    kind: OperationKind = "create",
    depends_on: tuple[str, ...] = (),
) -> PlannedOperation:
    return PlannedOperation(
        index=index,
        kind=kind,
        resource_id=f"r{index}",
        resource_type="aws_s3_bucket",
        provider="hashicorp/aws",
        provider_version="5.100.0",
        action=action,
        after={"bucket": f"r{index}"},
        depends_on=list(depends_on),
        request_digest=f"digest-{index}",
    )


Decision = Literal["allowed", "denied", "pending"]


def verdict(index: int, decision: Decision = "allowed", *reasons: str) -> PolicyVerdictView:
    return PolicyVerdictView(index=index, decision=decision, reasons=list(reasons))


def plan_of(*ops: PlannedOperation, decisions: dict[int, Decision] | None = None) -> Plan:
    decisions = decisions or {}

    def plan(input: PlanInput) -> PlanResult:
        wanted = set(input.indexes or [op.index for op in ops])
        chosen = [op for op in ops if op.index in wanted]
        return PlanResult(
            operations=chosen,
            verdicts=[verdict(op.index, decisions.get(op.index, "allowed"), "ok") for op in chosen],
        )

    return plan


def applied(input: ApplyInput) -> ApplyOutcome:
    return ApplyOutcome(
        results=[
            ApplyResult(
                index=item.index,
                status="applied",
                action=item.approved_action,
                after={"id": f"id-{item.index}"},
            )
            for item in input.operations
        ]
    )


def failing_then_applied() -> Apply:
    """The first apply fails (a provider error on the first operation); later ones work."""
    calls = {"n": 0}

    def apply(input: ApplyInput) -> ApplyOutcome:
        calls["n"] += 1
        if calls["n"] > 1:
            return applied(input)
        return ApplyOutcome(
            results=[
                ApplyResult(
                    index=item.index,
                    status="failed",
                    action=item.approved_action,
                    diagnostics=[DiagnosticView(summary="AccessDenied: not allowed")],
                )
                for item in input.operations
            ]
        )

    return apply


@dataclass
class Stubs:
    """The rooms' activities, answering from the test; they record what they were given."""

    plan: Plan
    apply: Apply = applied
    plans: list[PlanInput] = field(default_factory=list)
    applies: list[ApplyInput] = field(default_factory=list)
    stages: list[StageInput] = field(default_factory=list)
    leases: list[CheckLeaseInput] = field(default_factory=list)
    lease_error: str | None = None

    @activity.defn(name="plan_change")
    async def plan_change(self, input: PlanInput) -> PlanResult:
        self.plans.append(input)
        if self.lease_error:
            raise ApplicationError(self.lease_error, type="LeaseNotHeld", non_retryable=True)
        return self.plan(input)

    @activity.defn(name="apply_change")
    async def apply_change(self, input: ApplyInput) -> ApplyOutcome:
        """As the apply room does: it records the stage's start, and the change's end when
        everything applied."""
        self.applies.append(input)
        if input.stage is not None:
            self.stages.append(input.stage)
        outcome = self.apply(input)
        if input.finish is not None and all(r.status == "applied" for r in outcome.results):
            self.stages.append(input.finish)
            outcome.finished = True
        return outcome

    @activity.defn(name="record_stage")
    async def record_stage(self, input: StageInput) -> None:
        self.stages.append(input)

    @activity.defn(name="check_lease")
    async def check_lease(self, input: CheckLeaseInput) -> None:
        self.leases.append(input)

    @property
    def statuses(self) -> list[str]:
        return [s.status for s in self.stages]

    def rows(self, status: str) -> list[str]:
        return [r.resource_id or "" for s in self.stages for r in s.rows if r.status == status]


@asynccontextmanager
async def running(
    env: WorkflowEnvironment, stubs: Stubs, *ops: PlannedOperation, **options: Any
) -> AsyncIterator[WorkflowHandle[ChangeWorkflow, ChangeView]]:
    """A worker with the stubs, and a started change over ``ops``."""
    _ENV[:] = [env]
    queue = f"fast-{uuid.uuid4().hex[:8]}"
    register_keys(queue, AssertionKeys(keys=(KEY,)))
    change_id = f"change-p1-{uuid.uuid4().hex[:10]}"
    async with Worker(
        env.client,
        task_queue=queue,
        workflows=[ChangeWorkflow],
        activities=[stubs.plan_change, stubs.apply_change, stubs.record_stage, stubs.check_lease],
    ):
        handle = await env.client.start_workflow(
            ChangeWorkflow.run,
            ChangeInput(
                change_id=change_id,
                project=PROJECT,
                actor=ALICE,
                operations=[
                    OperationRef(
                        index=op.index,
                        kind=op.kind,
                        resource_id=op.resource_id,
                        resource_type=op.resource_type,
                    )
                    for op in ops
                ],
                **options,
            ),
            id=change_id,
            task_queue=queue,
        )
        yield handle


async def settled(handle: WorkflowHandle[ChangeWorkflow, ChangeView]) -> ChangeView:
    """Wait on the workflow itself (the watch update), as the API does."""
    return await handle.execute_update(ChangeWorkflow.watch, WatchRequest(settled=True))


_ENV: list[WorkflowEnvironment] = []


async def signed(
    handle: WorkflowHandle[Any, Any],
    actor: Actor,
    update: str,
    request: type[Any] = DecisionRequest,
) -> Any:
    """A request signed as the server signs it, on the test server's (skipped) clock."""
    now = (await _ENV[0].get_current_time()).timestamp()
    assertion = sign_actor(KEY, actor, workflow_id=handle.id, update=update, now=now)
    return request(actor=actor, assertion=assertion, comment=f"{update} by {actor.name}")


# -- the paths ------------------------------------------------------------------------------


async def test_allowed_change_plans_applies_and_records_per_stage(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    stubs = Stubs(plan_of(planned(0), planned(1, depends_on=("r0",))))
    async with running(time_skipping_env, stubs, planned(0), planned(1)) as handle:
        view = await handle.result()
    assert view.status == "applied", view.message
    assert [op.status for op in view.operations] == ["applied", "applied"]
    assert view.operations[0].outputs == {"id": "id-0"}
    # One plan stage (with discovery) and one apply stage, which slides over the order.
    assert [p.discover for p in stubs.plans] == [True]
    (apply,) = stubs.applies
    assert [(i.index, i.after) for i in apply.operations] == [(0, []), (1, [0])]
    assert apply.check_lease is False  # the plan stage checked it a moment ago
    assert apply.window == 10
    # One bookkeeping write per stage: planned rows ride with "applying".
    assert stubs.statuses == ["applying", "applied"]
    assert stubs.rows("planned") == ["r0", "r1"]
    assert stubs.stages[-1].final


async def test_one_resource_change_takes_three_workflow_tasks(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    stubs = Stubs(plan_of(planned(0)))
    async with running(time_skipping_env, stubs, planned(0)) as handle:
        await handle.result()
        history = await handle.fetch_history()
    tasks = [
        e for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
    ]
    # The apply stage records its start and the change's end itself: no local activity.
    local = [e for e in history.events if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED]
    activities = [
        e for e in history.events if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    ]
    assert (len(tasks), len(activities), len(local)) == (3, 2, 0)


async def test_denied_change_applies_nothing(time_skipping_env: WorkflowEnvironment) -> None:
    stubs = Stubs(plan_of(planned(0), planned(1), decisions={1: "denied"}))
    async with running(time_skipping_env, stubs, planned(0), planned(1)) as handle:
        view = await handle.result()
    assert view.status == "denied"
    assert "r1" in view.message and "nothing was applied" in view.message
    assert stubs.applies == []
    assert stubs.statuses == ["denied"] and stubs.rows("denied") == ["r1"]


async def test_pending_review_waits_for_a_reviewer_not_the_requester(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    stubs = Stubs(plan_of(planned(0), decisions={0: "pending"}))
    async with running(time_skipping_env, stubs, planned(0)) as handle:
        waiting = await settled(handle)
        assert waiting.status == "awaiting_confirmation"
        assert waiting.operations[0].status == "pending_review"
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update(
                ChangeWorkflow.confirm, await signed(handle, ALICE, "confirm")
            )
        assert getattr(refused.value.cause, "type", None) == CHANGE_FORBIDDEN
        await handle.execute_update(
            ChangeWorkflow.confirm, await signed(handle, REVIEWER, "confirm")
        )
        view = await handle.result()
    assert view.status == "applied" and view.decided_by == "rita"
    assert stubs.applies[0].check_lease is True  # someone was waited for
    assert stubs.rows("pending") == ["r0"] and stubs.rows("confirmed") == ["r0"]


async def test_delete_waits_for_confirmation_then_applies(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    op = planned(0, "delete", kind="delete")
    stubs = Stubs(plan_of(op))
    async with running(time_skipping_env, stubs, op) as handle:
        waiting = await settled(handle)
        assert waiting.status == "awaiting_confirmation"
        assert waiting.waiting_for == ["r0: deletes a real resource"]
        await handle.execute_update(ChangeWorkflow.confirm, await signed(handle, ALICE, "confirm"))
        view = await handle.result()
    assert view.status == "applied" and stubs.applies[0].approved_by == "alice"
    assert stubs.statuses == ["awaiting_confirmation", "applying", "applied"]


async def test_rejected_change_ends(time_skipping_env: WorkflowEnvironment) -> None:
    op = planned(0, "replace", kind="update")
    stubs = Stubs(plan_of(op))
    async with running(time_skipping_env, stubs, op) as handle:
        await settled(handle)
        await handle.execute_update(ChangeWorkflow.reject, await signed(handle, ALICE, "reject"))
        view = await handle.result()
    assert view.status == "rejected" and stubs.applies == []
    assert view.message == "rejected by alice; nothing was applied"


async def test_nobody_confirming_expires_the_change(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    op = planned(0, "delete", kind="delete")
    stubs = Stubs(plan_of(op))
    async with running(time_skipping_env, stubs, op, confirmation_timeout_seconds=3600) as handle:
        view = await handle.result()  # an hour passes in the time-skipping server
    assert view.status == "expired" and "nobody confirmed within 3600s" in view.message
    assert stubs.applies == [] and stubs.rows("expired") == ["r0"]


async def test_failed_apply_holds_then_retry_plans_only_what_failed(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    stubs = Stubs(plan_of(planned(0)), apply=failing_then_applied())
    async with running(time_skipping_env, stubs, planned(0)) as handle:
        failed = await settled(handle)
        assert failed.status == "failed" and "AccessDenied" in failed.message
        assert failed.operations[0].error == "AccessDenied: not allowed"
        retried = await handle.execute_update(
            ChangeWorkflow.retry, await signed(handle, ALICE, "retry", RetryRequest)
        )
        assert retried.status != "failed"
        view = await handle.result()
    assert view.status == "applied"
    assert [(p.indexes, p.discover) for p in stubs.plans] == [([0], True), ([0], False)]
    assert stubs.applies[1].check_lease is True
    assert stubs.statuses == ["applying", "failed", "planning", "applying", "applied"]


async def test_abandoned_change_ends_where_it_failed(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    stubs = Stubs(plan_of(planned(0)), apply=failing_then_applied())
    async with running(time_skipping_env, stubs, planned(0)) as handle:
        await settled(handle)
        await handle.execute_update(ChangeWorkflow.abandon, await signed(handle, ALICE, "abandon"))
        view = await handle.result()
    assert view.status == "abandoned" and view.message == "abandoned by alice"
    assert stubs.rows("abandoned") == ["r0"]


async def test_a_held_change_continues_as_new_and_still_retries(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    stubs = Stubs(plan_of(planned(0), planned(1)), apply=failing_then_applied())
    async with running(time_skipping_env, stubs, planned(0), planned(1), max_history=10) as handle:
        failed = await settled(handle)
        assert failed.status == "failed"
        # Its history passed the budget while it waited: the next run holds instead.
        first_run = await time_skipping_env.client.get_workflow_handle(
            handle.id, run_id=handle.result_run_id
        ).fetch_history()
        for _ in range(100):
            if first_run.events[-1].event_type == (
                EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
            ):
                break
            await asyncio.sleep(0.05)
            first_run = await time_skipping_env.client.get_workflow_handle(
                handle.id, run_id=handle.result_run_id
            ).fetch_history()
        assert first_run.events[-1].event_type == (
            EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
        )
        current = time_skipping_env.client.get_workflow_handle_for(ChangeWorkflow.run, handle.id)
        carried = await current.query(ChangeWorkflow.status_view)
        assert carried.status == "failed" and len(carried.plan) == 2
        await current.execute_update(
            ChangeWorkflow.retry, await signed(current, ALICE, "retry", RetryRequest)
        )
        view = await current.result()
    assert view.status == "applied"
    assert [op.status for op in view.operations] == ["applied", "applied"]
    assert stubs.plans[-1].indexes == [0, 1] and stubs.plans[-1].discover is False


async def test_watchers_hear_each_move_and_the_settled_state(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    op = planned(0, "delete", kind="delete")
    stubs = Stubs(plan_of(op))
    async with running(time_skipping_env, stubs, op) as handle:
        first = await handle.execute_update(ChangeWorkflow.watch, WatchRequest(seen=""))
        waiting = await settled(handle)
        assert waiting.status == "awaiting_confirmation"
        mover = asyncio.create_task(
            handle.execute_update(
                ChangeWorkflow.watch,
                WatchRequest(seen=f"awaiting_confirmation:{waiting.operations[0].status}"),
            )
        )
        await asyncio.sleep(0.2)
        assert not mover.done()  # nothing moved: the watcher waits, costing nothing
        await handle.execute_update(ChangeWorkflow.confirm, await signed(handle, ALICE, "confirm"))
        moved = await mover
        view = await handle.result()
    assert first.status in ("planning", "awaiting_confirmation")
    assert moved.status != "awaiting_confirmation"
    assert view.status == "applied"


async def test_a_refused_lease_ends_the_change_before_anything_runs(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    stubs = Stubs(plan_of(planned(0)), lease_error="bob holds the lock of project demo")
    async with running(time_skipping_env, stubs, planned(0)) as handle:
        view = await handle.result()
    assert view.status == "invalid" and "bob holds the lock" in view.message
    assert stubs.applies == [] and stubs.statuses == ["invalid"]


async def test_dry_run_plans_and_stops(time_skipping_env: WorkflowEnvironment) -> None:
    stubs = Stubs(plan_of(planned(0, "delete", kind="delete")))
    async with running(
        time_skipping_env, stubs, planned(0, "delete", kind="delete"), dry_run=True
    ) as handle:
        view = await handle.result()
    assert view.status == "planned" and stubs.applies == []
    assert stubs.statuses == ["planned"]
