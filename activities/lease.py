"""The lease room: a change's requester must hold the project's lock.

The lock workflow is the authority, so this asks it (an update signed for the
requester); a long review or a retry days later takes the lock back when it is free,
never from someone else.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from temporalio import activity
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from activities.errors import user_error
from store import changes as store_changes
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


def _lease_error(input: CheckLeaseInput, exc: WorkflowUpdateFailedError) -> ApplicationError:
    message = getattr(exc.cause, "message", None) or str(exc)
    return user_error(f"{message} (change {input.change_id})", LEASE_NOT_HELD)


class LeaseActivities:
    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime

    @activity.defn(name="check_lease")
    async def check_lease(self, input: CheckLeaseInput) -> None:
        """The requester must hold the project's lock: renew it, or take it if it is free
        (a long review or a retry days later), never from someone else."""
        await self._check_requester(input)
        handle = self.rt.temporal.get_workflow_handle_for(
            ProjectLockWorkflow.run, lock_workflow_id(input.project.id)
        )
        holder = Holder(id=input.actor.id, name=input.actor.name, via=input.actor.via)

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

    async def _check_requester(self, input: CheckLeaseInput) -> None:
        """The workflow's requester must be the one intent recorded for this change.

        A change is started by the server after it wrote the change's row; a workflow
        started by hand on Temporal's port with a made-up actor finds no matching row and
        acts for nobody (its lease would be taken in someone else's name)."""
        async with self.rt.db.session() as session:
            change = await store_changes.get_change(session, input.change_id)
        if (
            change is None
            or change.actor_id != input.actor.id
            or change.project_id != input.project.id
        ):
            raise user_error(
                f"change {input.change_id} was not requested through intent by "
                f"{input.actor.name} for project {input.project.name}; refusing to act on it",
                LEASE_NOT_HELD,
            )
