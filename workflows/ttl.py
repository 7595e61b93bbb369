"""``ProjectTTLWorkflow``: a project's expiry clock (id ``ttl-<project id>``).

It sleeps until each warning (history, and the UI and tool results warn from the
project row) and then until the expiry; a ``reschedule`` signal (a TTL set, moved or
removed) starts the count again. At expiry it:

1. waits for a lock someone holds to be released, at most the grace period, then takes
   the project's lock for the TTL (forcing it after the grace period, on record);
2. runs one change deleting every resource — planned, policy-checked and applied in
   reverse dependency order like any change; a policy may deny it;
3. archives the project when everything is gone (history kept), or records why not
   and leaves the project (without a TTL) as it is.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta
from typing import TypedDict

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.ttl import TtlActivities
    from workflows.models import (
        TtlCleanupInput,
        TtlInput,
        TtlLockInput,
        TtlOutcomeInput,
        TtlProjectInput,
        TtlReschedule,
        TtlStatus,
        TtlWarnInput,
    )

__all__ = ["ProjectTTLWorkflow"]


class _Options(TypedDict):
    start_to_close_timeout: timedelta
    retry_policy: RetryPolicy


_QUICK: _Options = {
    "start_to_close_timeout": timedelta(minutes=2),
    "retry_policy": RetryPolicy(maximum_interval=timedelta(seconds=30)),
}
# While the cleanup change waits for a reviewer or an on-call fix: poll this often.
_POLL = timedelta(seconds=5)
_POLL_MAX = timedelta(minutes=5)
# How often to look again whether a held lock was released, within the grace period.
_LOCK_POLL = timedelta(seconds=15)


@workflow.defn
class ProjectTTLWorkflow:
    @workflow.init
    def __init__(self, input: TtlInput) -> None:
        self.input = input
        self.expires_at = input.expires_at
        self.version = 0
        self.stale = False
        self.stage = "waiting"
        self.change_id: str | None = None
        self.message = ""

    @workflow.signal
    def reschedule(self, request: TtlReschedule) -> None:
        """A TTL set, moved or removed: look again. When is the database's to say (a
        signal's value is not trusted: anyone on Temporal's port could send one). Once
        the cleanup started, it is too late."""
        if self.stage in ("waiting", "waiting_for_lock"):
            self.stale = True
            self.version += 1

    @workflow.query
    def status(self) -> TtlStatus:
        return TtlStatus(
            expires_at=self.expires_at,
            stage=self.stage,
            change_id=self.change_id,
            message=self.message,
        )

    @workflow.run
    async def run(self, input: TtlInput) -> TtlStatus:
        while True:
            if not await self._until_expiry():
                self.stage = "cancelled"
                self.message = "the TTL was removed"
                return self.status()
            if await self._claim_lock():
                break
        self.stage = "cleaning"
        cleanup = TtlCleanupInput(
            project_id=input.project_id,
            project_name=input.project_name,
            change_key=workflow.uuid4().hex,
        )
        delay = _POLL
        while True:
            started = await workflow.execute_activity_method(
                TtlActivities.start_cleanup, cleanup, **_QUICK
            )
            if started.blocked is None:
                break
            # A change in flight still holds some resource (a failed one waits for on-call).
            self.message = started.blocked
            await workflow.sleep(delay)
            delay = min(delay * 2, _POLL_MAX)
        self.change_id = started.change_id
        outcome = "applied"
        if started.change_id is not None:
            outcome = await self._follow(started.change_id)
        result = await workflow.execute_activity_method(
            TtlActivities.finish,
            TtlOutcomeInput(
                project_id=input.project_id,
                project_name=input.project_name,
                change_id=started.change_id,
                outcome=outcome,
                resources=started.resources,
            ),
            **_QUICK,
        )
        self.stage = "archived" if result.archived else "kept"
        self.message = result.message
        return self.status()

    async def _until_expiry(self) -> bool:
        """Warn on the way and return at expiry (True), or when the TTL is removed."""
        warned: set[float] = set()
        seen = self.version
        while True:
            if self.stale:
                self.stale = False
                found = await workflow.execute_activity_method(
                    TtlActivities.expiry,
                    TtlProjectInput(
                        project_id=self.input.project_id, project_name=self.input.project_name
                    ),
                    **_QUICK,
                )
                self.expires_at = found.expires_at
            if self.version != seen:
                warned, seen = set(), self.version
            if self.expires_at is None:
                return False
            left = (self.expires_at - workflow.now()).total_seconds()
            if left <= 0:
                return True
            due = {w for w in self.input.warnings_seconds if w >= left and w not in warned}
            if due:
                warned |= due
                await workflow.execute_activity_method(
                    TtlActivities.warn,
                    TtlWarnInput(
                        project_id=self.input.project_id,
                        project_name=self.input.project_name,
                        expires_at=self.expires_at,
                    ),
                    **_QUICK,
                )
                continue
            upcoming = [left - w for w in self.input.warnings_seconds if w < left]
            await self._sleep(min([*upcoming, left]))

    async def _sleep(self, seconds: float) -> None:
        """Sleep ``seconds``, or until the TTL is rescheduled."""
        version = self.version
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(
                lambda: self.version != version, timeout=timedelta(seconds=seconds)
            )

    async def _claim_lock(self) -> bool:
        """Take the project's lock for the cleanup: at once when it is free, after the
        holder releases it, or by force once the grace period is over. False: the TTL
        moved meanwhile (start counting again)."""
        self.stage = "waiting_for_lock"
        version = self.version
        deadline = workflow.now() + timedelta(seconds=self.input.grace_seconds)
        while True:
            force = workflow.now() >= deadline
            claimed = await workflow.execute_activity_method(
                TtlActivities.claim_lock,
                TtlLockInput(
                    project_id=self.input.project_id,
                    project_name=self.input.project_name,
                    force=force,
                ),
                **_QUICK,
            )
            if claimed.acquired:
                return True
            if not claimed.expired:
                # The database is the authority: count to its expiry (none: stop).
                self.expires_at = claimed.expires_at
                self.version += 1
                self.stage = "waiting"
                return False
            self.message = f"waiting for {claimed.holder} to release the project's lock"
            wait = min(_LOCK_POLL, deadline - workflow.now())
            try:
                await workflow.wait_condition(
                    lambda: self.version != version, timeout=max(wait, timedelta(seconds=1))
                )
            except TimeoutError:
                continue
            self.stage = "waiting"
            return False

    async def _follow(self, change_id: str) -> str:
        """Poll the cleanup change until it ends; deletes it confirms itself (the TTL's
        owner asked for them when setting it), reviews wait for a reviewer."""
        delay = _POLL
        while True:
            state = await workflow.execute_activity_method(
                TtlActivities.follow_cleanup,
                TtlProjectInput(
                    project_id=self.input.project_id,
                    project_name=self.input.project_name,
                    change_id=change_id,
                ),
                **_QUICK,
            )
            self.message = state.message
            if state.final:
                return state.status
            await workflow.sleep(delay)
            delay = min(delay * 2, _POLL_MAX)
