"""``ChangeWorkflow``: one prompt-driven change, from lease check to history.

Steps (DESIGN.md): check lease → discover schema → plan → policy check → confirmation
→ dependency-ordered apply → failure hold (retry / abandon) → record history.

The workflow only orchestrates. Configs and states never pass through it: activities
read them from the database and hand back redacted views, so Temporal's history (and
its UI) can be shown to operators without leaking secrets.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any, TypedDict

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, TimeoutType
from temporalio.exceptions import TimeoutError as ActivityTimeout

with workflow.unsafe.imports_passed_through():
    from access.permissions import change_refusal
    from activities.apply import ApplyActivities
    from activities.bookkeeping import BookkeepingActivities
    from activities.lease import LeaseActivities
    from activities.plan import PlanActivities
    from workflows.actor import Actor
    from workflows.assertions import ActorAssertionError, keys_for, verify_actor
    from workflows.graph import GraphOperation, predecessors
    from workflows.models import (
        FINAL_STATUSES,
        SETTLED_STATUSES,
        ApplyInput,
        ApplyItem,
        ApplyResult,
        CarriedChange,
        ChangeInput,
        ChangeStatus,
        ChangeView,
        CheckLeaseInput,
        DecisionRequest,
        DiagnosticView,
        HistoryRow,
        OperationState,
        PlanInput,
        PlannedOperation,
        RetryRequest,
        StageInput,
        WatchRequest,
        progress_marker,
    )
    from workflows.temporal import SA_STATUS, pool_queue

__all__ = [
    "CHANGE_FORBIDDEN",
    "CHANGE_NOT_WAITING",
    "CHANGE_UNVERIFIED",
    "TEMPORAL_UI_ACTOR",
    "ChangeWorkflow",
    "change_workflow_id",
    "decision_refusal",
]

CHANGE_NOT_WAITING = "ChangeNotWaiting"
CHANGE_FORBIDDEN = "ChangeForbidden"
CHANGE_UNVERIFIED = "ChangeUnverifiedActor"
# Who history names for an operator action typed into the Temporal UI (no assertion).
TEMPORAL_UI_ACTOR = Actor(id="temporal-ui", name="temporal-ui", roles=[], via="temporal-ui")


def decision_refusal(
    actor: Actor, requester: Actor, verb: str, change_id: str, *, review: bool = False
) -> str | None:
    """Why ``actor`` may not ``verb`` the change ``requester`` asked for, or None: the
    permission rules (``access.permissions``) with the actions signed into the actor.

    An unverified Temporal UI operator only gets this far where the admin allowed it
    (retry and abandon).
    """
    if actor == TEMPORAL_UI_ACTOR and verb in ("retry", "abandon"):
        return None
    return change_refusal(
        frozenset(actor.actions or ()),
        scopes=actor.scopes,
        actor_id=actor.id,
        actor_name=actor.name,
        requester_id=requester.id,
        requester_name=requester.name,
        verb=verb,
        change_id=change_id,
        review=review,
    )


class _LocalOptions(TypedDict, total=False):
    start_to_close_timeout: timedelta
    retry_policy: RetryPolicy


class _Options(_LocalOptions, total=False):
    heartbeat_timeout: timedelta
    task_queue: str
    schedule_to_start_timeout: timedelta


# Database and bookkeeping activities: quick, so they run as local activities (no task
# queue round trip; recorded as markers), retried until they succeed.
_BOOKKEEPING: _LocalOptions = {
    "start_to_close_timeout": timedelta(seconds=30),
    "retry_policy": RetryPolicy(maximum_interval=timedelta(seconds=10)),
}
# Provider work: a crashed provider or worker is retried a few times, then surfaces.
# Some cloud objects take long to create (databases, clusters): heartbeats, not the
# overall limit, are what notice a dead worker.
_PROVIDER: _Options = {
    "start_to_close_timeout": timedelta(hours=2),
    # Activities heartbeat every 2 s: a dead worker's attempt is retried within 10 s.
    "heartbeat_timeout": timedelta(seconds=10),
    "retry_policy": RetryPolicy(
        initial_interval=timedelta(seconds=1),
        maximum_interval=timedelta(seconds=20),
        maximum_attempts=5,
        non_retryable_error_types=["ProviderError", "LeaseNotHeld", "InvalidChange"],
    ),
}


_LEASE: _LocalOptions = {
    "start_to_close_timeout": timedelta(seconds=30),
    "retry_policy": RetryPolicy(
        maximum_interval=timedelta(seconds=5),
        maximum_attempts=5,
        non_retryable_error_types=["LeaseNotHeld"],
    ),
}


# How a failed activity reaches the workflow: regular activities raise ActivityError; a
# local activity's own ApplicationError (the lease check) arrives unwrapped.
_FAILED = (ActivityError, ApplicationError)


def change_workflow_id(project_id: str, ulid: str) -> str:
    return f"change-{project_id}-{ulid}"


# Worth reporting after an apply even when the plan already knew them.
_HEADLINE = ("id", "arn")


def _outputs(after: dict[str, Any] | None, planned: PlannedOperation) -> dict[str, Any]:
    """Values the plan could not show (known after apply), plus the object's id/arn."""
    if not after:
        return {}
    wanted = {p.split(".", 1)[0].split("[", 1)[0] for p in planned.unknown} | set(_HEADLINE)
    return {k: v for k, v in after.items() if k in wanted and v not in (None, "", [], {})}


def _describe(diagnostics: list[DiagnosticView]) -> str:
    """Diagnostics as one line a user can act on: what, at which attribute, and the
    provider's own detail (it often says the fix: 'Did you mean "bucket"?')."""
    return "; ".join(_diagnostic_line(d) for d in diagnostics)


def _diagnostic_line(d: DiagnosticView) -> str:
    line = f"{d.summary} ({d.attribute})" if d.attribute else d.summary
    detail = " ".join(d.detail.split())
    if detail and detail not in line:
        line += f": {detail[:1000]}"
    return line


def _error_text(exc: BaseException) -> str:
    cause = exc.cause if isinstance(exc, ActivityError) and exc.cause else exc
    if isinstance(cause, ActivityTimeout) and cause.type == TimeoutType.SCHEDULE_TO_START:
        # Only provider work on a worker pool has a schedule-to-start limit.
        what = exc.activity_type if isinstance(exc, ActivityError) else "provider work"
        return (
            f"no worker of this project's pool picked up its provider work ({what}) in "
            "time; start `intent worker --pool NAME` in the network that holds the "
            "project's credentials, then retry the change"
        )
    return getattr(cause, "message", None) or str(cause)


@workflow.defn
class ChangeWorkflow:
    @workflow.init
    def __init__(self, input: ChangeInput) -> None:
        self.input = input
        self.status: ChangeStatus = "planning"
        self.message = ""
        self.ops: dict[int, OperationState] = {
            ref.index: OperationState(
                index=ref.index,
                kind=ref.kind,
                resource_id=ref.resource_id,
                resource_type=ref.resource_type,
            )
            for ref in input.operations
        }
        self.plan: dict[int, PlannedOperation] = {}
        self.waiting_for: list[str] = []
        self.confirm_deadline: datetime | None = None
        self.decision: DecisionRequest | None = None
        self.decision_kind: str | None = None  # confirm / reject
        self.hold: str | None = None  # retry / abandon
        self.hold_request: RetryRequest | DecisionRequest | None = None
        self.decided_by: str | None = None
        # After the wait for a decision ends (decided or expired) no decision is taken.
        self.decision_closed = False
        # Assertions already used: a copy lifted from this history cannot be replayed.
        self._used_assertions: set[str] = set()
        self._lease_keeper: asyncio.Task[None] | None = None
        # History rows waiting for the next stage's bookkeeping write.
        self._rows: list[HistoryRow] = []
        # Someone was waited for (a review, a retry): the apply checks the lease again.
        self._waited = False
        # Continuing as new: watchers answer now and come back to the next run.
        self._draining = False
        # Orders the bookkeeping writes (see _stage_input).
        self._seq = 0
        if input.carried is not None:
            carried = input.carried
            self.status = carried.status
            self.message = carried.message
            self.ops = {op.index: op for op in carried.operations}
            self.plan = {p.index: p for p in carried.plan}
            self.decided_by = carried.decided_by
            self._used_assertions = set(carried.used_assertions)

    # -- the run -------------------------------------------------------------------------

    @workflow.run
    async def run(self, input: ChangeInput) -> ChangeView:
        if input.carried is not None:
            # Continued as new while waiting in the failed hold: wait there again.
            pending = list(input.carried.failed)
            if not await self._hold(pending, restored=True):
                return await self._end()
            first = False
        else:
            pending = sorted(self.ops)
            first = True
        while pending:
            try:
                outcome = await self._round(pending, first)
            except _FAILED as exc:
                # A lease that cannot be held, a provider that cannot be installed or
                # launched: before anything was applied the change ends; afterwards it
                # waits, like a failed apply, so the cause can be fixed and retried.
                if not self._applied_any():
                    for i in pending:
                        self.ops[i].status = "invalid"
                        self.ops[i].error = _error_text(exc)
                    await self._finish("invalid", _error_text(exc))
                    break
                for i in pending:
                    self.ops[i].status = "failed"
                    self.ops[i].error = _error_text(exc)
                outcome = pending
            first = False
            if outcome is None:
                break
            pending = outcome
            if not await self._hold(pending):
                break
        return await self._end()

    async def _end(self) -> ChangeView:
        self._stop_keeping_lease()
        # Watchers and deciders get their answer from this run, not a closed one.
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.view()

    async def _round(self, pending: list[int], first: bool) -> list[int] | None:
        """One pass over ``pending``; None when the change ended, else what must be held."""
        self._keep_lease()
        decided = await self._plan_check_confirm(pending, first=first)
        if decided is not True:
            return decided or None
        if self.input.dry_run:
            await self._finish("planned", "planned; nothing was applied (dry run)")
            return None
        # The plan step checked the lease a moment ago, unless someone was waited for.
        failed = await self._apply(pending, check_lease=self._waited or not first)
        if not failed:
            if self.status != "applied":  # else the apply stage recorded the end itself
                await self._finish("applied", self._applied_message())
            return None
        return failed

    # -- the lease, kept while the change is live ------------------------------------------

    def _keep_lease(self) -> None:
        """Renew the requester's lease in the background while the change plans, waits
        for a human or applies: a long review or apply must not let it lapse."""
        if self._lease_keeper is None or self._lease_keeper.done():
            self._lease_keeper = asyncio.create_task(self._lease_loop())

    def _stop_keeping_lease(self) -> None:
        if self._lease_keeper is not None and not self._lease_keeper.done():
            self._lease_keeper.cancel()
        self._lease_keeper = None

    async def _lease_loop(self) -> None:
        while True:
            await workflow.sleep(max(self.input.lease_renew_seconds, 1.0))
            try:
                await workflow.execute_local_activity_method(
                    LeaseActivities.check_lease, self._lease_input(), **_LEASE
                )
            except _FAILED:
                # Someone else holds it now; the next apply step reports that.
                workflow.logger.info("lease of %s not renewed", self.input.project.name)

    def _provider_options(self) -> _Options:
        """Provider work goes to the project's worker pool when it names one, and waits
        for a worker of it only so long (then the change says so instead of hanging)."""
        pool = self.input.project.pool
        if not pool:
            return _PROVIDER
        return {
            **_PROVIDER,
            "task_queue": pool_queue(pool),
            "schedule_to_start_timeout": timedelta(seconds=self.input.pool_wait_seconds),
        }

    def _lease_input(self) -> CheckLeaseInput:
        return CheckLeaseInput(
            project=self.input.project,
            actor=self.input.actor,
            change_id=self.input.change_id,
            dry_run=self.input.dry_run,
            assertion=self.input.assertion,
            run_chain=workflow.info().first_execution_run_id,
        )

    # -- plan, policy check, confirmation ---------------------------------------------------

    async def _plan_check_confirm(self, indexes: list[int], *, first: bool) -> bool | list[int]:
        """Plan (with the lease check, provider discovery and policy check), then wait
        for confirmation where needed.

        True: go on and apply. False: the change ended. A list: operations to hold in
        ``failed`` (a plan error on a retry round: the cause can be fixed again).
        """
        for i in indexes:
            self.ops[i].status = "planning"
        if first:
            self.status = "planning"  # the submission recorded it already
        else:
            await self._stage("planning")
        result = await workflow.execute_activity_method(
            PlanActivities.plan_change,
            PlanInput(
                change_id=self.input.change_id,
                project=self.input.project,
                actor=self.input.actor,
                lease=self._lease_input(),
                indexes=indexes,
                discover=first,
                timestamp_ns=workflow.time_ns(),
                window=self.input.max_parallel,
            ),
            **self._provider_options(),
        )
        for planned in result.operations:
            self.plan[planned.index] = planned
            op = self.ops[planned.index]
            op.action = planned.action
            op.diagnostics = list(planned.diagnostics)
            op.status = "planned"
        if result.errors:
            for index, diagnostics in result.errors.items():
                self.ops[index].status = "invalid"
                self.ops[index].diagnostics = diagnostics
                self.ops[index].error = _describe(diagnostics)
            self._record(
                [self._row(i, "invalid", reasons=[self.ops[i].error or ""]) for i in result.errors]
            )
            if not first:
                for i in indexes:
                    if self.ops[i].status == "invalid":
                        self.ops[i].status = "failed"
                return indexes
            first_error = next(iter(result.errors.values()))[0]
            await self._finish("invalid", f"the plan failed: {_diagnostic_line(first_error)}")
            return False

        for verdict in result.verdicts:
            op = self.ops[verdict.index]
            op.verdict = verdict
            if verdict.decision == "denied":
                op.status = "denied"
            elif verdict.decision == "pending":
                op.status = "pending_review"
        self._record(
            [
                self._row(
                    i,
                    {"denied": "denied", "pending_review": "pending"}.get(
                        self.ops[i].status, "planned"
                    ),
                    reasons=self._reasons(i),
                )
                for i in indexes
            ]
        )
        denied = [i for i in indexes if self.ops[i].status == "denied"]
        if denied:
            reasons = [r for i in denied for r in self._reasons(i)]
            names = ", ".join(self.ops[i].resource_id for i in denied)
            await self._finish(
                "denied",
                f"denied by policy ({names}): " + "; ".join(reasons) + self._nothing_more(),
            )
            return False
        if self.input.dry_run:
            return True
        return await self._confirm(indexes)

    async def _confirm(self, indexes: list[int]) -> bool:
        waits: list[str] = []
        for i in indexes:
            op, planned = self.ops[i], self.plan[i]
            if op.status == "pending_review":
                waits.append(f"{op.resource_id}: a policy sent this {planned.action} to review")
            elif planned.needs_confirmation:
                op.status = "awaiting_confirmation"
                what = "replaces" if planned.action == "replace" else "deletes"
                reason = f" ({planned.replace_reason})" if planned.replace_reason else ""
                waits.append(f"{op.resource_id}: {what} a real resource{reason}")
        if not waits:
            return True
        self._waited = True
        self.waiting_for = waits
        self.decision = None
        self.decision_kind = None
        self.decision_closed = False
        timeout = self.input.confirmation_timeout_seconds
        self.confirm_deadline = workflow.now() + timedelta(seconds=timeout)
        await self._stage("awaiting_confirmation")
        try:
            await workflow.wait_condition(lambda: self.decision is not None, timeout=timeout)
        except TimeoutError:
            self.decision_kind = "expired"
        # Closed before the next await: a late confirm is refused by the validator.
        self.decision_closed = True
        waiting = [
            i for i in indexes if self.ops[i].status in ("pending_review", "awaiting_confirmation")
        ]
        self.waiting_for = []
        self.confirm_deadline = None
        if self.decision_kind == "confirm":
            assert self.decision is not None
            self.decided_by = self._actor_of(self.decision).name
            for i in waiting:
                self.ops[i].status = "confirmed"
            self._record(
                [
                    self._row(i, "confirmed", actor_name=self.decided_by, reasons=self._comment())
                    for i in waiting
                ]
            )
            return True
        status = "rejected" if self.decision_kind == "reject" else "expired"
        for i in indexes:
            self.ops[i].status = status  # type: ignore[assignment]
        if status == "rejected" and self.decision is not None:
            self.decided_by = self._actor_of(self.decision).name
            self._record(
                [
                    self._row(i, "rejected", actor_name=self.decided_by, reasons=self._comment())
                    for i in indexes
                ]
            )
            await self._finish("rejected", f"rejected by {self.decided_by}" + self._nothing_more())
        else:
            self._record([self._row(i, "expired") for i in indexes])
            await self._finish(
                "expired",
                f"nobody confirmed within {timeout:.0f}s"
                + self._nothing_more()
                + ". Ask again to start a new change.",
            )
        return False

    def _applied_any(self) -> bool:
        return any(op.status == "applied" for op in self.ops.values())

    def _nothing_more(self) -> str:
        """How a change that stops here ends, honestly: was anything applied before?"""
        applied = [op.resource_id for op in self.ops.values() if op.status == "applied"]
        if not applied:
            return "; nothing was applied"
        return f"; nothing more was applied (already applied earlier: {', '.join(applied)})"

    # -- apply ------------------------------------------------------------------------------

    async def _apply(self, indexes: list[int], *, check_lease: bool) -> list[int]:
        """Apply ``indexes`` as a sliding window over their dependency order (one activity
        for the stage); return the ones that failed or were blocked."""
        order = self._order(indexes)
        items: list[ApplyItem] = []
        for i in indexes:
            op, planned = self.ops[i], self.plan[i]
            op.status = "applying"
            op.started_at = workflow.now()
            op.attempts += 1
            if planned.action == "no-op":
                op.status = "applied"
                op.finished_at = workflow.now()
                self._record([self._row(i, "applied", details={"no_op": True})])
                continue
            items.append(
                ApplyItem(
                    index=i,
                    approved_action=planned.action,
                    request_digest=planned.request_digest,
                    after=sorted(order[i]),
                )
            )
        # The stage's bookkeeping rides with the activity: its start, and (when every
        # operation applies) the change's end, so no local activity sits between.
        stage = self._stage_input("applying")
        if not items:
            await self._write(stage)
        else:
            applied = {i for i in self.ops if self.ops[i].status == "applied"}
            finish = self._stage_input(
                "applied",
                final=True,
                message=self._applied_message(applied | {item.index for item in items}),
                enter=False,
            )
            try:
                outcome = await workflow.execute_activity_method(
                    ApplyActivities.apply_change,
                    ApplyInput(
                        change_id=self.input.change_id,
                        project=self.input.project,
                        actor=self.input.actor,
                        lease=self._lease_input(),
                        operations=items,
                        approved_by=self.decided_by,
                        check_lease=check_lease,
                        window=self.input.max_parallel,
                        stage=stage,
                        finish=finish,
                    ),
                    **self._provider_options(),
                )
            except _FAILED as exc:
                await self._write(stage)  # unless the activity got to write it
                error = _error_text(exc)
                self.message = error
                for item in items:
                    op = self.ops[item.index]
                    op.status = "failed"
                    op.error = error
                    op.diagnostics = [DiagnosticView(summary=error)]
                    op.finished_at = workflow.now()
                self._record([self._row(item.index, "failed", reasons=[error]) for item in items])
                return sorted(item.index for item in items)
            for result in outcome.results:
                self._applied(result)
            if outcome.finished:
                self.message = finish.message
                self._enter(finish.status)
        return sorted(i for i in indexes if self.ops[i].status in ("failed", "blocked"))

    def _applied(self, result: ApplyResult) -> None:
        op = self.ops[result.index]
        op.finished_at = workflow.now()
        op.diagnostics = result.diagnostics
        if result.status == "applied":
            op.status = "applied"
            op.error = None
            op.outputs = _outputs(result.after, self.plan[result.index])
            return
        op.status = result.status
        op.error = _describe([d for d in result.diagnostics if d.severity == "error"])

    def _order(self, indexes: list[int]) -> dict[int, frozenset[int]]:
        """What each of ``indexes`` waits for; deletes in reverse dependency order."""
        return predecessors(
            [
                GraphOperation(
                    index=i,
                    resource_id=self.plan[i].resource_id,
                    kind="delete" if self.plan[i].action == "delete" else self.plan[i].kind,
                    depends_on=frozenset(self.plan[i].depends_on),
                )
                for i in sorted(indexes)
            ]
        )

    # -- the failed hold, and continuing as new from it -------------------------------------

    async def _hold(self, failed: list[int], *, restored: bool = False) -> bool:
        """Wait in ``failed`` for retry (True) or abandon (False).

        A change may wait here for days and be retried many times: when its history
        grows past its budget it continues as new from here, carrying its state.
        """
        if not restored:
            names = ", ".join(self.ops[i].resource_id for i in failed)
            first = next((self.ops[i].error for i in failed if self.ops[i].error), "")
            self.message = (
                f"apply failed for {names}: {first}. Fix the cause, then retry the change "
                "(change-retry, `intent changes retry`, the REST API or the Temporal UI), "
                "or abandon it."
            )
            self.hold = None
            self.hold_request = None
            # A failed change may wait for days: it does not keep the project locked.
            self._stop_keeping_lease()
            await self._stage("failed")
        while True:
            await workflow.wait_condition(
                lambda: self.hold is not None or (not restored and self._history_full())
            )
            if self.hold is not None:
                break
            # Let watchers answer from this run (they come back to the next one).
            self._draining = True
            await workflow.wait_condition(
                lambda: workflow.all_handlers_finished() or self.hold is not None
            )
            self._draining = False
            if self.hold is not None:
                break
            workflow.continue_as_new(
                self.input.model_copy(update={"carried": self._carried(failed)})
            )
        if self.hold == "retry":
            self._waited = True  # time passed: the apply checks the lease again
            return True
        who = self._who(self.hold_request) if self.hold_request else "someone"
        for i in failed:
            self.ops[i].status = "abandoned"
        self._record([self._row(i, "abandoned", actor_name=who) for i in failed])
        applied = [op.resource_id for op in self.ops.values() if op.status == "applied"]
        done = f"; already applied: {', '.join(applied)}" if applied else ""
        await self._finish("abandoned", f"abandoned by {who}{done}")
        return False

    def _history_full(self) -> bool:
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() > self.input.max_history
        )

    def _carried(self, failed: list[int]) -> CarriedChange:
        return CarriedChange(
            status=self.status,
            message=self.message,
            operations=[self.ops[i] for i in sorted(self.ops)],
            plan=[self.plan[i] for i in sorted(self.plan)],
            failed=failed,
            decided_by=self.decided_by,
            used_assertions=sorted(self._used_assertions),
        )

    # -- queries and updates -------------------------------------------------------------

    @workflow.query
    def status_view(self) -> ChangeView:
        return self.view()

    @workflow.update
    async def watch(self, request: WatchRequest) -> ChangeView:
        """Answer when the change moves (or settles): callers wait here instead of
        polling, and cost nothing while nothing happens."""
        await workflow.wait_condition(lambda: self._moved(request))
        return self.view()

    def _moved(self, request: WatchRequest) -> bool:
        if self._draining or self.status in FINAL_STATUSES:
            return True
        if request.settled:
            return self.status in SETTLED_STATUSES
        return self._marker() != request.seen

    def _marker(self) -> str:
        return progress_marker(self.status, (self.ops[i].status for i in sorted(self.ops)))

    @workflow.update
    async def confirm(self, request: DecisionRequest) -> ChangeView:
        self._used_assertions.add(request.assertion)
        self.decision = request
        self.decision_kind = "confirm"
        await workflow.wait_condition(lambda: self.status != "awaiting_confirmation")
        return self.view()

    @confirm.validator
    def _validate_confirm(self, request: DecisionRequest) -> None:
        self._check_decider(self._verified(request, "confirm"), "confirm")

    @workflow.update
    async def reject(self, request: DecisionRequest) -> ChangeView:
        self._used_assertions.add(request.assertion)
        self.decision = request
        self.decision_kind = "reject"
        await workflow.wait_condition(lambda: self.status != "awaiting_confirmation")
        return self.view()

    @reject.validator
    def _validate_reject(self, request: DecisionRequest) -> None:
        self._check_decider(self._verified(request, "reject"), "reject")

    @workflow.update
    async def retry(self, request: RetryRequest) -> ChangeView:
        self._used_assertions.add(request.assertion)
        self.hold_request = request
        self.hold = "retry"
        await workflow.wait_condition(lambda: self.status != "failed")
        return self.view()

    @retry.validator
    def _validate_retry(self, request: RetryRequest) -> None:
        self._check_holder(self._verified(request, "retry", operator_ok=True), "retry")

    @workflow.update
    async def abandon(self, request: DecisionRequest) -> ChangeView:
        self._used_assertions.add(request.assertion)
        self.hold_request = request
        self.hold = "abandon"
        await workflow.wait_condition(lambda: self.status != "failed")
        return self.view()

    @abandon.validator
    def _validate_abandon(self, request: DecisionRequest) -> None:
        self._check_holder(self._verified(request, "abandon", operator_ok=True), "abandon")

    def _verified(
        self, request: DecisionRequest, update: str, *, operator_ok: bool = False
    ) -> Actor:
        """The actor behind ``request``, proven by its assertion (see workflows.assertions).

        Without one, only retry/abandon typed into the Temporal UI pass, and only where
        the admin turned that on (INTENT_TEMPORAL_UI_OPERATORS); history then names
        "temporal-ui" and keeps the typed name as an unverified claim.
        """
        info = workflow.info()
        keys = keys_for(info.task_queue)
        if not request.assertion:
            if operator_ok and keys.temporal_ui_operators:
                return TEMPORAL_UI_ACTOR
            allowed = (
                "retry and abandon from the Temporal UI are turned off on this server "
                "(INTENT_TEMPORAL_UI_OPERATORS)"
                if operator_ok
                else f"a {update} must come through intent so it can be attributed"
            )
            raise ApplicationError(
                f"{update} of change {self.input.change_id} refused: it carries no signed actor "
                f"assertion; {allowed}. Use `intent changes {update}`, the web UI, the REST API "
                "or the MCP tools",
                type=CHANGE_UNVERIFIED,
                non_retryable=True,
            )
        try:
            verified = verify_actor(
                keys.keys,
                request.assertion,
                workflow_id=info.workflow_id,
                update=update,
                now=workflow.now().timestamp(),
            )
        except ActorAssertionError as exc:
            raise ApplicationError(
                f"{update} of change {self.input.change_id} refused: {exc}",
                type=CHANGE_UNVERIFIED,
                non_retryable=True,
            ) from None
        if request.assertion in self._used_assertions:
            raise ApplicationError(
                f"{update} of change {self.input.change_id} refused: this actor assertion was "
                "already used; send the request again",
                type=CHANGE_UNVERIFIED,
                non_retryable=True,
            )
        if request.actor != verified.actor:
            raise ApplicationError(
                f"{update} of change {self.input.change_id} refused: the actor in the request "
                "is not the one its assertion vouches for",
                type=CHANGE_UNVERIFIED,
                non_retryable=True,
            )
        return verified.actor

    @staticmethod
    def _actor_of(request: DecisionRequest) -> Actor:
        """Who sent an accepted request (its validator checked the assertion)."""
        if request.assertion and request.actor is not None:
            return request.actor
        return TEMPORAL_UI_ACTOR

    def _who(self, request: DecisionRequest) -> str:
        """The name history records for an accepted request."""
        actor = self._actor_of(request)
        if actor.via != "temporal-ui":
            return actor.name
        claimed = request.operator or (request.actor.name if request.actor else "")
        return f"temporal-ui (typed: {claimed}, unverified)" if claimed else "temporal-ui"

    def _check_decider(self, actor: Actor, verb: str) -> None:
        if (
            self.status != "awaiting_confirmation"
            or self.decision is not None
            or self.decision_closed
        ):
            raise ApplicationError(
                f"change {self.input.change_id} is {self.status}, not waiting for "
                f"confirmation; nothing to {verb}",
                type=CHANGE_NOT_WAITING,
                non_retryable=True,
            )
        review = any(op.status == "pending_review" for op in self.ops.values())
        refused = decision_refusal(
            actor, self.input.actor, verb, self.input.change_id, review=review
        )
        if refused:
            raise ApplicationError(refused, type=CHANGE_FORBIDDEN, non_retryable=True)

    def _check_holder(self, actor: Actor, verb: str) -> None:
        if self.status != "failed" or self.hold is not None:
            raise ApplicationError(
                f"change {self.input.change_id} is {self.status}; only a failed change can "
                f"be {'retried' if verb == 'retry' else 'abandoned'}",
                type=CHANGE_NOT_WAITING,
                non_retryable=True,
            )
        refused = decision_refusal(actor, self.input.actor, verb, self.input.change_id)
        if refused:
            raise ApplicationError(refused, type=CHANGE_FORBIDDEN, non_retryable=True)

    # -- helpers -------------------------------------------------------------------------

    def view(self) -> ChangeView:
        return ChangeView(
            change_id=self.input.change_id,
            project=self.input.project,
            actor=self.input.actor,
            status=self.status,
            dry_run=self.input.dry_run,
            message=self.message,
            operations=[self.ops[i] for i in sorted(self.ops)],
            plan=[self.plan[i] for i in sorted(self.plan)],
            waiting_for=self.waiting_for,
            confirm_deadline=self.confirm_deadline,
            decided_by=self.decided_by,
        )

    def _applied_message(self, applied: set[int] | None = None) -> str:
        """What a change that ends applied says; ``applied``: these operations, not the
        ones whose status says so (the apply stage records the end before it knows)."""
        parts = [
            f"{self.ops[i].action} {self.ops[i].resource_id}"
            for i in sorted(self.ops)
            if (self.ops[i].status == "applied" if applied is None else i in applied)
        ]
        return "applied: " + ", ".join(parts)

    def _reasons(self, index: int) -> list[str]:
        verdict = self.ops[index].verdict
        return list(verdict.reasons) if verdict else []

    def _comment(self) -> list[str]:
        for request in (self.decision, self.hold_request):
            if request is not None and request.comment:
                return [request.comment]
        return []

    def _row(
        self,
        index: int,
        status: str,
        *,
        reasons: list[str] | None = None,
        actor_name: str | None = None,
        details: dict[str, object] | None = None,
    ) -> HistoryRow:
        op = self.ops[index]
        planned = self.plan.get(index)
        extra: dict[str, object] = {"action": op.action}
        if actor_name:
            extra["decided_by"] = actor_name
        if planned is not None and planned.replace_paths:
            extra["replace_paths"] = planned.replace_paths
        if op.verdict is not None:
            extra["policies"] = [p.model_dump() for p in op.verdict.policies]
        if op.diagnostics:
            extra["diagnostics"] = [d.model_dump() for d in op.diagnostics]
        extra.update(details or {})
        return HistoryRow(
            index=index,
            resource_id=op.resource_id,
            resource_type=op.resource_type,
            operation=op.kind,
            status=status,
            reasons=[r for r in (reasons or []) if r],
            before=planned.before if planned else None,
            after=planned.after if planned else None,
            details=extra,
        )

    def _record(self, rows: list[HistoryRow]) -> None:
        """Keep ``rows`` for the next stage's bookkeeping (one write per stage)."""
        self._rows.extend(rows)

    async def _stage(self, status: ChangeStatus, *, final: bool = False) -> None:
        """Enter ``status``: one write of the status mirror together with the history
        rows gathered since the last stage (a local activity)."""
        await self._write(self._stage_input(status, final=final))

    def _stage_input(
        self,
        status: ChangeStatus,
        *,
        final: bool = False,
        message: str | None = None,
        enter: bool = True,
    ) -> StageInput:
        """A stage's bookkeeping: it takes the gathered rows and the next sequence number;
        with ``enter`` the workflow is in ``status`` from now on."""
        if enter:
            self._enter(status)
        rows, self._rows = self._rows, []
        # Workflow time orders the writes, across continue-as-new too; a stage written
        # twice (a retried attempt) or after a later one is not written again.
        self._seq = max(self._seq + 1, int(workflow.now().timestamp() * 1_000_000))
        return StageInput(
            change_id=self.input.change_id,
            project_id=self.input.project.id,
            actor=self.input.actor,
            status=status,
            message=self.message if message is None else message,
            final=final,
            rows=rows,
            seq=self._seq,
        )

    def _enter(self, status: ChangeStatus) -> None:
        self.status = status
        if workflow.info().typed_search_attributes.get(SA_STATUS) is not None:
            # Published where the starter set it (intent's server always does; a cluster
            # without the attribute, such as the time-skipping test server, has none).
            workflow.upsert_search_attributes([SA_STATUS.value_set(status)])

    async def _write(self, stage: StageInput) -> None:
        await workflow.execute_local_activity_method(
            BookkeepingActivities.record_stage, stage, **_BOOKKEEPING
        )

    async def _finish(self, status: ChangeStatus, message: str) -> None:
        assert status in FINAL_STATUSES
        self.message = message
        await self._stage(status, final=True)
