"""``ProjectLockWorkflow``: the single authority on who may change a project.

One entity workflow per project, id ``lock-<project id>``. Callers talk to it through
updates (``acquire``, ``renew``, ``release``, ``force_release``) whose validators reject
a busy or foreign request before it enters history, so a refused caller costs nothing.
A lease lapses after ``lease_seconds`` without a renew. Every change is mirrored to the
database by an activity so listings and the UI can show the holder without Temporal.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel, Field

    from access.permissions import action_refusal
    from activities.locks import LockActivities
    from workflows.actor import Actor
    from workflows.assertions import (
        ASSERTION_SKEW_SECONDS,
        ActorAssertionError,
        assertion_expiry,
        keys_for,
        verify_actor,
    )
    from workflows.models import Holder, MirrorLockInput

__all__ = [
    "LOCK_BUSY",
    "LOCK_FORBIDDEN",
    "LOCK_NOT_HELD",
    "LOCK_UNVERIFIED",
    "AcquireRequest",
    "ForceReleaseRequest",
    "Holder",
    "Lease",
    "LockInput",
    "LockState",
    "MirrorLockInput",
    "ProjectLockWorkflow",
    "ReleaseRequest",
    "RenewRequest",
    "lock_workflow_id",
]

# ApplicationError types callers can match on.
LOCK_BUSY = "LockBusy"
LOCK_NOT_HELD = "LockNotHeld"
LOCK_FORBIDDEN = "LockForbidden"
LOCK_UNVERIFIED = "LockUnverifiedActor"

# Well below Temporal's own limits; the SDK's "suggested" flag is honoured as well.
DEFAULT_MAX_HISTORY = 2_000


def lock_workflow_id(project_id: str) -> str:
    return f"lock-{project_id}"


class LockState(BaseModel):
    holder: Holder | None = None
    acquired_at: datetime | None = None
    renewed_at: datetime | None = None
    expires_at: datetime | None = None
    # Orders database mirror writes; microseconds of workflow time, strictly increasing.
    seq: int = 0
    # Actor assertions already used, with their expiry: none can be replayed.
    used: dict[str, float] = Field(default_factory=dict)


class LockInput(BaseModel):
    project_id: str
    project_name: str
    lease_seconds: float = 300.0
    max_history: int = DEFAULT_MAX_HISTORY
    # Carried over continue-as-new.
    state: LockState = Field(default_factory=LockState)


class AcquireRequest(BaseModel):
    holder: Holder
    lease_seconds: float | None = None
    # The server's (or worker's) signature over the holder: see workflows.assertions.
    assertion: str = ""


class RenewRequest(BaseModel):
    holder: Holder
    assertion: str = ""


class ReleaseRequest(BaseModel):
    holder: Holder
    assertion: str = ""


class ForceReleaseRequest(BaseModel):
    actor: Holder
    reason: str = ""
    assertion: str = ""


class Lease(BaseModel):
    project_id: str
    project_name: str
    held: bool
    holder: Holder | None = None
    acquired_at: datetime | None = None
    renewed_at: datetime | None = None
    expires_at: datetime | None = None


def _fmt(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "unknown"


@workflow.defn
class ProjectLockWorkflow:
    @workflow.init
    def __init__(self, input: LockInput) -> None:
        self.input = input
        # A lease is carried only across continue-as-new: a lock workflow started afresh
        # (by hand, on Temporal's port) cannot bring a holder of its own choosing.
        self.state = input.state if workflow.info().continued_run_id else LockState()
        self._woken = False

    # -- main loop: expiry and continue-as-new -----------------------------------------

    @workflow.run
    async def run(self, input: LockInput) -> None:
        while True:
            self._woken = False
            if self._expired():
                await self._expire()
                continue
            timeout = self._seconds_left()
            try:
                await workflow.wait_condition(
                    lambda: self._woken or self._history_full(), timeout=timeout
                )
            except TimeoutError:
                continue  # the loop head decides whether the lease really lapsed
            if self._history_full():
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(
                    LockInput(
                        project_id=self.input.project_id,
                        project_name=self.input.project_name,
                        lease_seconds=self.input.lease_seconds,
                        max_history=self.input.max_history,
                        state=self.state,
                    )
                )

    # -- queries -----------------------------------------------------------------------

    @workflow.query
    def lease(self) -> Lease:
        return self._lease()

    # -- updates -----------------------------------------------------------------------

    @workflow.update
    async def acquire(self, request: AcquireRequest) -> Lease:
        self._spend(request.assertion)
        now = workflow.now()
        same = self._held_by(request.holder)
        if not same:
            self.state.acquired_at = now
        self.state.holder = request.holder
        self.state.renewed_at = now
        seconds = request.lease_seconds or self.input.lease_seconds
        self.input.lease_seconds = seconds
        self.state.expires_at = now + timedelta(seconds=seconds)
        await self._mirror(event=None if same else "acquire", actor=request.holder)
        return self._lease()

    @acquire.validator
    def _validate_acquire(self, request: AcquireRequest) -> None:
        self._verify(request.assertion, "acquire", request.holder)
        if self._live() and not self._held_by(request.holder):
            raise self._busy_error()

    @workflow.update
    async def renew(self, request: RenewRequest) -> Lease:
        self._spend(request.assertion)
        now = workflow.now()
        self.state.renewed_at = now
        self.state.expires_at = now + timedelta(seconds=self.input.lease_seconds)
        await self._mirror(event=None, actor=request.holder)
        return self._lease()

    @renew.validator
    def _validate_renew(self, request: RenewRequest) -> None:
        self._verify(request.assertion, "renew", request.holder)
        self._require_holder(request.holder, "renew")

    @workflow.update
    async def release(self, request: ReleaseRequest) -> Lease:
        self._spend(request.assertion)
        self._clear()
        await self._mirror(event="release", actor=request.holder)
        return self._lease()

    @release.validator
    def _validate_release(self, request: ReleaseRequest) -> None:
        self._verify(request.assertion, "release", request.holder)
        self._require_holder(request.holder, "release")

    @workflow.update
    async def force_release(self, request: ForceReleaseRequest) -> Lease:
        self._spend(request.assertion)
        was_held = self._live()
        self._clear()
        if was_held:
            await self._mirror(event="force_release", actor=request.actor, reason=request.reason)
        return self._lease()

    @force_release.validator
    def _validate_force_release(self, request: ForceReleaseRequest) -> None:
        actor = self._verify(request.assertion, "force_release", request.actor)
        # The actions were resolved for this project's space by the server and signed.
        refused = action_refusal(
            frozenset(actor.actions or ()),
            "intent-project:unlock",
            who=actor.name,
            where=f"project {self.input.project_name}",
        )
        if refused:
            raise ApplicationError(
                f"{refused}, or wait for the lease to expire",
                type=LOCK_FORBIDDEN,
                non_retryable=True,
            )

    # -- helpers -----------------------------------------------------------------------

    def _verify(self, assertion: str, update: str, claimed: Holder) -> Actor:
        """The actor the request's assertion proves; it must be the holder it names."""
        info = workflow.info()
        now = workflow.now().timestamp()
        try:
            verified = verify_actor(
                keys_for(info.task_queue).keys,
                assertion,
                workflow_id=info.workflow_id,
                update=update,
                now=now,
            )
        except ActorAssertionError as exc:
            raise self._unverified(update, str(exc)) from None
        if assertion in self.state.used:
            raise self._unverified(update, "this actor assertion was already used")
        actor = verified.actor
        if (actor.id, actor.name) != (claimed.id, claimed.name):
            raise self._unverified(update, "the holder named is not the one its assertion proves")
        return actor

    def _unverified(self, update: str, why: str) -> ApplicationError:
        return ApplicationError(
            f"{update} of the lock of project {self.input.project_name} refused: {why}. Locks "
            "are taken and released through intent (project-use, project-release)",
            type=LOCK_UNVERIFIED,
            non_retryable=True,
        )

    def _spend(self, assertion: str) -> None:
        """Remember a used assertion until it expires anyway (state stays small)."""
        now = workflow.now().timestamp()
        self.state.used = {
            a: exp for a, exp in self.state.used.items() if exp + ASSERTION_SKEW_SECONDS >= now
        }
        if assertion:
            self.state.used[assertion] = assertion_expiry(assertion)

    def _live(self) -> bool:
        return self.state.holder is not None and not self._expired()

    def _expired(self) -> bool:
        return (
            self.state.holder is not None
            and self.state.expires_at is not None
            and self.state.expires_at <= workflow.now()
        )

    def _seconds_left(self) -> float | None:
        if self.state.holder is None or self.state.expires_at is None:
            return None
        return max((self.state.expires_at - workflow.now()).total_seconds(), 0.001)

    def _history_full(self) -> bool:
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() >= self.input.max_history
        )

    def _held_by(self, holder: Holder) -> bool:
        return self._live() and self.state.holder is not None and self.state.holder.id == holder.id

    def _busy_error(self) -> ApplicationError:
        current = self.state.holder
        assert current is not None
        return ApplicationError(
            f"project {self.input.project_name} is locked by {current.name} until "
            f"{_fmt(self.state.expires_at)}; wait for the lease to expire, or ask "
            f"{current.name} or an admin to release it",
            {"holder": current.model_dump(), "expires_at": _fmt(self.state.expires_at)},
            type=LOCK_BUSY,
            non_retryable=True,
        )

    def _require_holder(self, holder: Holder, verb: str) -> None:
        if self._held_by(holder):
            return
        if self._live():
            raise self._busy_error()
        raise ApplicationError(
            f"cannot {verb} the lock of project {self.input.project_name}: {holder.name} does "
            "not hold it (it is free or the lease expired); call project-use to take it",
            type=LOCK_NOT_HELD,
            non_retryable=True,
        )

    def _clear(self) -> None:
        self.state.holder = None
        self.state.acquired_at = None
        self.state.renewed_at = None
        self.state.expires_at = None

    async def _expire(self) -> None:
        previous = self.state.holder
        self._clear()
        await self._mirror(event="expire", actor=previous, reason="lease expired after inactivity")

    def _lease(self) -> Lease:
        live = self._live()
        return Lease(
            project_id=self.input.project_id,
            project_name=self.input.project_name,
            held=live,
            holder=self.state.holder if live else None,
            acquired_at=self.state.acquired_at if live else None,
            renewed_at=self.state.renewed_at if live else None,
            expires_at=self.state.expires_at if live else None,
        )

    async def _mirror(self, *, event: str | None, actor: Holder | None, reason: str = "") -> None:
        self._woken = True
        now_us = int(workflow.now().timestamp() * 1_000_000)
        self.state.seq = max(self.state.seq + 1, now_us)
        snapshot = MirrorLockInput(
            project_id=self.input.project_id,
            seq=self.state.seq,
            holder_id=self.state.holder.id if self.state.holder else None,
            holder_name=self.state.holder.name if self.state.holder else None,
            acquired_at=self.state.acquired_at,
            renewed_at=self.state.renewed_at,
            expires_at=self.state.expires_at,
            event=event,
            actor=actor,
            reason=reason,
        )
        try:
            # Local: a lock answer must not queue behind long applies for a task slot.
            await workflow.execute_local_activity_method(
                LockActivities.mirror_lock,
                snapshot,
                start_to_close_timeout=timedelta(seconds=15),
                schedule_to_close_timeout=timedelta(minutes=2),
                retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=5)),
            )
        except ActivityError:
            # Temporal stays the authority; the next change re-mirrors (seq wins).
            workflow.logger.warning("lock mirror for %s failed", self.input.project_id)
