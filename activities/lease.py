"""The lease room: a change's requester must hold the project's lock.

The lock workflow is the authority, so this asks it: a query when the requester's
lease is fresh (the usual case: they renewed it a moment ago by submitting the change),
an update signed for the requester when it needs renewing; a long review or a retry
days later takes the lock back when it is free, never from someone else.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from temporalio import activity
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from activities.errors import user_error
from store import changes as store_changes
from workflows.assertions import KEY_PURPOSE, ActorAssertionError, verify_actor
from workflows.lock import (
    LOCK_NOT_HELD,
    AcquireRequest,
    Holder,
    ProjectLockWorkflow,
    RenewRequest,
    lock_workflow_id,
)
from workflows.models import CheckLeaseInput

if TYPE_CHECKING:
    from activities.runtime import Runtime

__all__ = ["LEASE_NOT_HELD", "LeaseActivities"]

# The ApplicationError type of a lease the requester does not (and cannot) hold.
LEASE_NOT_HELD = "LeaseNotHeld"
# A lease with more than this share of its term left is fresh: no renewal needed.
_FRESH = 0.8


def _lease_error(input: CheckLeaseInput, exc: WorkflowUpdateFailedError) -> ApplicationError:
    message = getattr(exc.cause, "message", None) or str(exc)
    return user_error(f"{message} (change {input.change_id})", LEASE_NOT_HELD)


class LeaseActivities:
    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime

    @activity.defn(name="check_lease")
    async def check_lease(self, input: CheckLeaseInput) -> None:
        """Renew the requester's lease (the change keeps it while it runs)."""
        await self.ensure(input, renew=True)

    async def ensure(self, input: CheckLeaseInput, *, renew: bool = False) -> None:
        """The requester must be the one intent recorded, and hold the project's lock."""
        await self.check_requester(input)
        await self.hold(input, renew=renew)

    async def hold(self, input: CheckLeaseInput, *, renew: bool = False) -> None:
        """The requester must hold the project's lock: renew it when it is not fresh
        (or ``renew``), take it if it is free (a long review or a retry days later),
        never from someone else. (``check_requester`` first: this acts in their name.)"""
        handle = self.rt.temporal.get_workflow_handle_for(
            ProjectLockWorkflow.run, lock_workflow_id(input.project.id)
        )
        holder = Holder(id=input.actor.id, name=input.actor.name, via=input.actor.via)
        if not renew and await self._fresh(handle, holder):
            return

        def signed(update: str) -> str:
            return self.rt.signer.sign(input.actor, workflow_id=handle.id, update=update)

        try:
            await handle.execute_update(
                ProjectLockWorkflow.renew, RenewRequest(holder=holder, assertion=signed("renew"))
            )
            return
        except WorkflowUpdateFailedError as exc:
            if getattr(exc.cause, "type", None) != LOCK_NOT_HELD:
                raise _lease_error(input, exc) from exc
        except RPCError as exc:
            if "not found" not in str(exc).lower():
                raise
            raise user_error(
                f"{input.actor.name} does not hold the lock of project "
                f"{input.project.name}; call project-use first",
                LEASE_NOT_HELD,
            ) from exc
        try:
            await handle.execute_update(
                ProjectLockWorkflow.acquire,
                AcquireRequest(holder=holder, assertion=signed("acquire")),
            )
        except WorkflowUpdateFailedError as exc:
            raise _lease_error(input, exc) from exc

    @staticmethod
    async def _fresh(handle: WorkflowHandle[ProjectLockWorkflow, None], holder: Holder) -> bool:
        """Whether ``holder`` holds a lease with most of its term left (a query: no
        history, no database write)."""
        try:
            lease = await handle.query(ProjectLockWorkflow.lease)
        except RPCError:
            return False  # the update path below says why
        if not lease.held or lease.holder is None or lease.holder.id != holder.id:
            return False
        if lease.expires_at is None or lease.renewed_at is None:
            return False
        term = (lease.expires_at - lease.renewed_at).total_seconds()
        left = (lease.expires_at - datetime.now(UTC)).total_seconds()
        return term > 0 and left > _FRESH * term

    async def check_requester(self, input: CheckLeaseInput) -> None:
        """The change must be one intent started, run by this execution, for its requester.

        The server writes the change's row, then starts its workflow (id = change id)
        with its signature over the requester. The first check verifies that signature
        and claims the row for this execution chain; every later one (renewals, the
        apply, a retry days later) finds its own claim. A workflow started by hand on
        Temporal's port — a made-up actor, another id, a replay of an old or dry-run
        change, a second execution — acts for nobody."""
        info = activity.info()
        async with self.rt.db.session() as session:
            change = await store_changes.get_change(session, input.change_id)
        if (
            change is None
            or info.workflow_id != input.change_id
            or change.actor_id != input.actor.id
            or change.project_id != input.project.id
            or change.dry_run != input.dry_run
        ):
            raise self._not_ours(input, "it was not requested through intent")
        if change.run_chain is None:
            self._check_start(input)
            async with self.rt.db.transaction() as session:
                claimed = await store_changes.claim_change(
                    session, input.change_id, input.run_chain
                )
        else:
            claimed = bool(input.run_chain) and change.run_chain == input.run_chain
        if not claimed:
            raise self._not_ours(input, "another workflow execution already runs it")

    def _check_start(self, input: CheckLeaseInput) -> None:
        """The server's signature over this requester for this change, still fresh."""
        try:
            verified = verify_actor(
                self.rt.box.derived_keys(KEY_PURPOSE),
                input.assertion,
                workflow_id=input.change_id,
                update="start",
                now=time.time(),
            )
        except ActorAssertionError as exc:
            raise self._not_ours(input, str(exc)) from None
        if verified.actor != input.actor:
            raise self._not_ours(input, "its requester is not the one the server signed")

    @staticmethod
    def _not_ours(input: CheckLeaseInput, why: str) -> ApplicationError:
        return user_error(
            f"change {input.change_id} for {input.actor.name} on project "
            f"{input.project.name}: {why}; refusing to act on it",
            LEASE_NOT_HELD,
        )
