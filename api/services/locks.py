"""Project locks, seen from the caller's side: update-with-start on the lock workflow."""

from __future__ import annotations

import logging
from typing import Any

from temporalio.client import Client, WithStartWorkflowOperation, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from api.context import Caller
from api.errors import Busy, Conflict, Forbidden, IntentError, Unavailable
from api.services.access import path_of
from store.models import Project
from workflows.lock import (
    LOCK_BUSY,
    LOCK_FORBIDDEN,
    LOCK_NOT_HELD,
    LOCK_UNVERIFIED,
    AcquireRequest,
    ForceReleaseRequest,
    Holder,
    Lease,
    LockInput,
    ProjectLockWorkflow,
    ReleaseRequest,
    RenewRequest,
    lock_workflow_id,
)
from workflows.temporal import UNPROCESSED_UPDATE, resend_unprocessed

__all__ = ["acquire", "end", "force_release", "holder_of", "lease", "release", "renew", "touch"]

log = logging.getLogger(__name__)


def holder_of(caller: Caller) -> Holder:
    return Holder(id=caller.actor.id, name=caller.actor.name, via=caller.actor.via)


def _start(
    caller: Caller, project: Project
) -> WithStartWorkflowOperation[ProjectLockWorkflow, None]:
    return WithStartWorkflowOperation(
        ProjectLockWorkflow.run,
        LockInput(
            project_id=project.id,
            project_name=project.name,
            lease_seconds=caller.settings.lock_lease_seconds,
        ),
        id=lock_workflow_id(project.id),
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        task_queue=caller.settings.temporal_task_queue,
    )


def _translate(exc: Exception) -> IntentError:
    cause = exc.cause if isinstance(exc, WorkflowUpdateFailedError) else exc
    if isinstance(cause, ApplicationError):
        kind = {
            LOCK_BUSY: Busy,
            LOCK_FORBIDDEN: Forbidden,
            LOCK_NOT_HELD: Conflict,
            LOCK_UNVERIFIED: Forbidden,
            UNPROCESSED_UPDATE: Unavailable,
        }.get(cause.type or "", IntentError)
        return kind(cause.message, details={"reason": cause.type})
    return Unavailable(f"the lock service did not answer: {exc}; retry in a moment")


async def _update(caller: Caller, project: Project, update: Any, request: object) -> Lease:
    client: Client = await caller.temporal()
    try:
        # A with-start operation is single-use, so each sending builds its own.
        result: Lease = await resend_unprocessed(
            lambda: client.execute_update_with_start_workflow(
                update, request, start_workflow_operation=_start(caller, project)
            )
        )
    except (WorkflowUpdateFailedError, RPCError) as exc:
        raise _translate(exc) from exc
    return result


def _signed(caller: Caller, project: Project, update: str) -> str:
    return caller.assertion(lock_workflow_id(project.id), update)


async def acquire(caller: Caller, project: Project) -> Lease:
    return await _update(
        caller,
        project,
        ProjectLockWorkflow.acquire,
        AcquireRequest(
            holder=holder_of(caller),
            lease_seconds=caller.settings.lock_lease_seconds,
            assertion=_signed(caller, project, "acquire"),
        ),
    )


async def renew(caller: Caller, project: Project) -> Lease:
    return await _update(
        caller,
        project,
        ProjectLockWorkflow.renew,
        RenewRequest(holder=holder_of(caller), assertion=_signed(caller, project, "renew")),
    )


async def release(caller: Caller, project: Project) -> Lease:
    return await _update(
        caller,
        project,
        ProjectLockWorkflow.release,
        ReleaseRequest(holder=holder_of(caller), assertion=_signed(caller, project, "release")),
    )


async def force_release(caller: Caller, project: Project, reason: str = "") -> Lease:
    # The workflow decides with the actions the caller holds in the project's space,
    # resolved here and signed into the assertion.
    actor = caller.actor_in(await path_of(caller, project.space_id))
    return await _update(
        caller,
        project,
        ProjectLockWorkflow.force_release,
        ForceReleaseRequest(
            actor=holder_of(caller),
            reason=reason,
            assertion=caller.assertion(lock_workflow_id(project.id), "force_release", actor),
        ),
    )


async def end(caller: Caller, project: Project) -> None:
    """Stop a deleted project's lock workflow (nothing is left to lock)."""
    client: Client = await caller.temporal()
    handle = client.get_workflow_handle(lock_workflow_id(project.id))
    try:
        await handle.terminate(reason=f"project {project.name} was deleted by {caller.actor.name}")
    except RPCError as exc:
        if "not found" not in str(exc).lower() and "already completed" not in str(exc).lower():
            log.warning("lock workflow of deleted project %s not stopped: %s", project.name, exc)


async def touch(caller: Caller, project: Project) -> None:
    """Renew the caller's lease as a side effect of activity; never fails the call."""
    try:
        await renew(caller, project)
    except IntentError as exc:
        log.info("lease of %s not renewed for %s: %s", project.name, caller.actor.name, exc)


async def lease(caller: Caller, project: Project) -> Lease:
    """The live lease from Temporal (not the mirror), for callers about to act on it."""
    client: Client = await caller.temporal()
    handle = client.get_workflow_handle_for(ProjectLockWorkflow.run, lock_workflow_id(project.id))
    try:
        return await handle.query(ProjectLockWorkflow.lease)
    except RPCError as exc:
        if "not found" in str(exc).lower():
            return Lease(project_id=project.id, project_name=project.name, held=False)
        raise _translate(exc) from exc
