"""The lease room: a change's requester must hold the project's lock.

The lock workflow is the authority, so this asks it (an update); a long review or a
retry days later takes the lock back when it is free, never from someone else.
"""

from __future__ import annotations

from temporalio import activity
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from workflows.lock import (
    LOCK_NOT_HELD,
    AcquireRequest,
    Holder,
    ProjectLockWorkflow,
    RenewRequest,
    lock_workflow_id,
)
from workflows.models import CheckLeaseInput

__all__ = ["LEASE_NOT_HELD", "LeaseActivities"]

# The ApplicationError type of a lease the requester does not (and cannot) hold.
LEASE_NOT_HELD = "LeaseNotHeld"


def _lease_error(input: CheckLeaseInput, exc: WorkflowUpdateFailedError) -> ApplicationError:
    message = getattr(exc.cause, "message", None) or str(exc)
    return ApplicationError(
        f"{message} (change {input.change_id})", type=LEASE_NOT_HELD, non_retryable=True
    )


class LeaseActivities:
    def __init__(self, temporal: Client) -> None:
        self.temporal = temporal

    @activity.defn(name="check_lease")
    async def check_lease(self, input: CheckLeaseInput) -> None:
        """The requester must hold the project's lock: renew it, or take it if it is free
        (a long review or a retry days later), never from someone else."""
        handle = self.temporal.get_workflow_handle_for(
            ProjectLockWorkflow.run, lock_workflow_id(input.project.id)
        )
        holder = Holder(id=input.actor.id, name=input.actor.name, via=input.actor.via)
        try:
            await handle.execute_update(ProjectLockWorkflow.renew, RenewRequest(holder=holder))
            return
        except WorkflowUpdateFailedError as exc:
            if getattr(exc.cause, "type", None) != LOCK_NOT_HELD:
                raise _lease_error(input, exc) from exc
        except RPCError as exc:
            if "not found" not in str(exc).lower():
                raise
            raise ApplicationError(
                f"{input.actor.name} does not hold the lock of project "
                f"{input.project.name}; call project-use first",
                type=LEASE_NOT_HELD,
                non_retryable=True,
            ) from exc
        try:
            await handle.execute_update(ProjectLockWorkflow.acquire, AcquireRequest(holder=holder))
        except WorkflowUpdateFailedError as exc:
            raise _lease_error(input, exc) from exc
