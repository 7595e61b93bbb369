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
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from access.permissions import change_refusal
    from activities.apply import ApplyActivities
    from activities.bookkeeping import BookkeepingActivities
    from activities.lease import LeaseActivities
    from activities.plan import PlanActivities
    from activities.policies import PolicyEvaluator
    from workflows.actor import Actor
    from workflows.assertions import ActorAssertionError, keys_for, verify_actor
    from workflows.graph import GraphOperation, apply_waves
    from workflows.models import (
        FINAL_STATUSES,
        ApplyInput,
        ChangeInput,
        ChangeStatus,
        ChangeView,
        CheckLeaseInput,
        DecisionRequest,
        DiagnosticView,
        DiscoverInput,
        HistoryRow,
        OperationState,
        PlanInput,
        PlannedOperation,
        PolicyCheckInput,
        RecordInput,
        RetryRequest,
        UpdateChangeInput,
    )
    from workflows.temporal import SA_STATUS

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


# Policy evaluation: each policy has its own time limit; the step as a whole gets a
# generous one and a few attempts, then the change ends with the error.
_POLICY: _Options = {
    "start_to_close_timeout": timedelta(minutes=10),
    "retry_policy": RetryPolicy(maximum_interval=timedelta(seconds=10), maximum_attempts=3),
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
    return getattr(cause, "message", None) or str(cause)


@workflow.defn
class ChangeWorkflow:
    @workflow.init
    def __init__(self, input: ChangeInput) -> None:
        self.input = input
        self.status: ChangeStatus = "checking_lease"
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

    # -- the run -------------------------------------------------------------------------

    @workflow.run
    async def run(self, input: ChangeInput) -> ChangeView:
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
        self._stop_keeping_lease()
        return self.view()

    async def _round(self, pending: list[int], first: bool) -> list[int] | None:
        """One pass over ``pending``; None when the change ended, else what must be held."""
        await self._lease()
        self._keep_lease()
        if first:
            await self._set_status("discovering")
            await workflow.execute_activity_method(
                PlanActivities.discover_providers,
                DiscoverInput(change_id=self.input.change_id, project_id=self.input.project.id),
                **_PROVIDER,
            )
        decided = await self._plan_check_confirm(pending, retrying=not first)
        if decided is not True:
            return decided or None
        if self.input.dry_run:
            await self._finish("planned", "planned; nothing was applied (dry run)")
            return None
        await self._set_status("applying")
        failed = await self._apply(pending)
        if not failed:
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
                await self._check_lease()
            except _FAILED:
                # Someone else holds it now; the next apply step reports that.
                workflow.logger.info("lease of %s not renewed", self.input.project.name)

    async def _lease(self) -> None:
        await self._set_status("checking_lease")
        await self._check_lease()

    async def _check_lease(self) -> None:
        await workflow.execute_local_activity_method(
            LeaseActivities.check_lease,
            CheckLeaseInput(
                project=self.input.project, actor=self.input.actor, change_id=self.input.change_id
            ),
            **_LEASE,
        )

    async def _plan_check_confirm(self, indexes: list[int], *, retrying: bool) -> bool | list[int]:
        """Plan, check policies and wait for confirmation.

        True: go on and apply. False: the change ended. A list: operations to hold in
        ``failed`` (a plan error on a retry round: the cause can be fixed again).
        """
        await self._set_status("planning")
        for i in indexes:
            self.ops[i].status = "planning"
        result = await workflow.execute_activity_method(
            PlanActivities.plan_operations,
            PlanInput(change_id=self.input.change_id, project=self.input.project, indexes=indexes),
            **_PROVIDER,
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
            await self._record(
                [self._row(i, "invalid", reasons=[self.ops[i].error or ""]) for i in result.errors]
            )
            first = next(iter(result.errors.values()))[0]
            if retrying:
                for i in indexes:
                    if self.ops[i].status == "invalid":
                        self.ops[i].status = "failed"
                return indexes
            await self._finish("invalid", f"the plan failed: {_diagnostic_line(first)}")
            return False

        await self._set_status("policy_check")
        verdicts = await workflow.execute_activity_method(
            PolicyEvaluator.evaluate_policies,
            PolicyCheckInput(
                change_id=self.input.change_id,
                project=self.input.project,
                actor=self.input.actor,
                operations=[self.plan[i] for i in indexes],
                timestamp_ns=workflow.time_ns(),
            ),
            **_POLICY,
        )
        for verdict in verdicts:
            op = self.ops[verdict.index]
            op.verdict = verdict
            if verdict.decision == "denied":
                op.status = "denied"
            elif verdict.decision == "pending":
                op.status = "pending_review"
        rows = [
            self._row(
                i,
                {"denied": "denied", "pending_review": "pending"}.get(
                    self.ops[i].status, "planned"
                ),
                reasons=self._reasons(i),
            )
            for i in indexes
        ]
        await self._record(rows)
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
                waits.append(f"{op.resource_id}: {what} a real resource")
        if not waits:
            return True
        self.waiting_for = waits
        self.decision = None
        self.decision_kind = None
        self.decision_closed = False
        timeout = self.input.confirmation_timeout_seconds
        self.confirm_deadline = workflow.now() + timedelta(seconds=timeout)
        await self._set_status("awaiting_confirmation")
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
            await self._record(
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
            await self._record(
                [
                    self._row(i, "rejected", actor_name=self.decided_by, reasons=self._comment())
                    for i in indexes
                ]
            )
            await self._finish("rejected", f"rejected by {self.decided_by}" + self._nothing_more())
        else:
            await self._record([self._row(i, "expired") for i in indexes])
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

    async def _apply(self, indexes: list[int]) -> list[int]:
        """Apply ``indexes`` in dependency order; return the ones that failed or were blocked."""
        try:
            await self._check_lease()
        except _FAILED as exc:
            for i in indexes:
                self.ops[i].status = "failed"
                self.ops[i].error = _error_text(exc)
            self.message = _error_text(exc)
            return indexes
        wanted = set(indexes)
        failed: set[int] = set()
        depends = {
            i: {j for j in wanted if self.plan[j].resource_id in self.plan[i].depends_on}
            for i in wanted
        }
        for wave in self._waves(indexes):
            runnable = []
            for i in wave:
                if self._blocked_by(i, depends, failed):
                    self.ops[i].status = "blocked"
                    self.ops[i].error = "not applied: something it depends on failed"
                    failed.add(i)
                else:
                    self.ops[i].status = "queued"
                    runnable.append(i)
            limit = max(1, self.input.max_parallel)
            for start in range(0, len(runnable), limit):
                chunk = runnable[start : start + limit]
                results = await asyncio.gather(*(self._apply_one(i) for i in chunk))
                failed.update(i for i, ok in zip(chunk, results, strict=True) if not ok)
        return sorted(failed)

    def _blocked_by(self, index: int, depends: dict[int, set[int]], failed: set[int]) -> bool:
        planned = self.plan[index]
        if planned.action == "delete":
            # A delete waits for its dependents' deletes, which come first.
            return any(index in depends[j] and j in failed for j in depends)
        return bool(depends[index] & failed)

    def _waves(self, indexes: list[int]) -> list[list[int]]:
        return apply_waves(
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

    async def _apply_one(self, index: int) -> bool:
        op = self.ops[index]
        planned = self.plan[index]
        op.status = "applying"
        op.started_at = workflow.now()
        op.attempts += 1
        if planned.action == "no-op":
            op.status = "applied"
            op.finished_at = workflow.now()
            await self._record([self._row(index, "applied", details={"no_op": True})])
            return True
        try:
            result = await workflow.execute_activity_method(
                ApplyActivities.apply_operation,
                ApplyInput(
                    change_id=self.input.change_id,
                    project=self.input.project,
                    actor=self.input.actor,
                    index=index,
                    approved_action=planned.action,
                    approved_by=self.decided_by,
                    request_digest=planned.request_digest,
                ),
                **_PROVIDER,
            )
        except ActivityError as exc:
            op.status = "failed"
            op.error = _error_text(exc)
            op.diagnostics = [DiagnosticView(summary=op.error)]
            op.finished_at = workflow.now()
            await self._record([self._row(index, "failed", reasons=[op.error])])
            return False
        op.finished_at = workflow.now()
        op.diagnostics = result.diagnostics
        if result.status == "applied":
            op.status = "applied"
            op.error = None
            op.outputs = _outputs(result.after, planned)
            return True
        op.status = "failed"
        op.error = _describe([d for d in result.diagnostics if d.severity == "error"])
        return False

    async def _hold(self, failed: list[int]) -> bool:
        """Wait in ``failed`` for retry (True) or abandon (False)."""
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
        await self._set_status("failed")
        await workflow.wait_condition(lambda: self.hold is not None)
        if self.hold == "retry":
            return True
        who = self._who(self.hold_request) if self.hold_request else "someone"
        for i in failed:
            self.ops[i].status = "abandoned"
        await self._record([self._row(i, "abandoned", actor_name=who) for i in failed])
        applied = [op.resource_id for op in self.ops.values() if op.status == "applied"]
        done = f"; already applied: {', '.join(applied)}" if applied else ""
        await self._finish("abandoned", f"abandoned by {who}{done}")
        return False

    # -- queries and updates -------------------------------------------------------------

    @workflow.query
    def status_view(self) -> ChangeView:
        return self.view()

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
        if request.actor is not None and request.actor != verified.actor:
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

    def _applied_message(self) -> str:
        parts = [
            f"{self.ops[i].action} {self.ops[i].resource_id}"
            for i in sorted(self.ops)
            if self.ops[i].status == "applied"
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

    async def _record(self, rows: list[HistoryRow]) -> None:
        if not rows:
            return
        await workflow.execute_local_activity_method(
            BookkeepingActivities.record_history,
            RecordInput(
                change_id=self.input.change_id,
                project_id=self.input.project.id,
                actor=self.input.actor,
                rows=rows,
            ),
            **_BOOKKEEPING,
        )

    async def _set_status(self, status: ChangeStatus, *, final: bool = False) -> None:
        self.status = status
        workflow.upsert_search_attributes([SA_STATUS.value_set(status)])
        await workflow.execute_local_activity_method(
            BookkeepingActivities.update_change,
            UpdateChangeInput(
                change_id=self.input.change_id,
                status=status,
                summary={"message": self.message},
                final=final,
            ),
            **_BOOKKEEPING,
        )

    async def _finish(self, status: ChangeStatus, message: str) -> None:
        assert status in FINAL_STATUSES
        self.message = message
        await self._set_status(status, final=True)
