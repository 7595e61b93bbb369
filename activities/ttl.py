"""The TTL room: what ``ProjectTTLWorkflow`` does at and before a project's expiry.

The TTL acts as its own actor, "project TTL", through the same services every door uses
(locks, changes): its cleanup is a change like any other, planned, checked against the
project's policies and recorded, that its actor confirms (the user who set the TTL
asked for the deletes then); a review a policy asks for still waits for a reviewer.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from temporalio import activity

from access.models import ROOT, Grant, Principal
from activities.errors import user_error
from api.context import AppContext, Caller, TemporalConnector
from api.errors import Conflict, IntentError
from api.services import changes as change_svc
from api.services import drift as drift_svc
from api.services import locks
from api.services.changes import OperationInput
from store import changes as store_changes
from store import history
from store import resources as store_resources
from store.models import Project
from store.types import utcnow
from workflows.change import change_workflow_id
from workflows.models import (
    FINAL_STATUSES,
    TtlCleanupInput,
    TtlCleanupStarted,
    TtlCleanupState,
    TtlFinished,
    TtlLockInput,
    TtlLockResult,
    TtlOutcomeInput,
    TtlProjectInput,
    TtlReschedule,
    TtlWarnInput,
)

if TYPE_CHECKING:
    from activities.runtime import Runtime

__all__ = ["TTL_PRINCIPAL", "TtlActivities"]

# Who the TTL's lock, change and history rows name; policies see it as role
# "project-ttl", via "system". It may do exactly what a cleanup needs, in every space.
TTL_PRINCIPAL = Principal(
    id="system:ttl",
    name="project TTL",
    grants=(
        Grant(
            space=ROOT,
            role="project-ttl",
            actions=frozenset(
                {
                    "intent-project:read",
                    "intent-state:read",
                    "intent-project:lock",
                    # Only after the grace period, on record.
                    "intent-project:unlock",
                    "intent-resource:delete",
                    "intent-change:confirm",
                }
            ),
        ),
    ),
)


def _expired(project: Project) -> bool:
    return (
        project.expires_at is not None
        and project.expires_at <= utcnow()
        and project.archived_at is None
    )


class TtlActivities:
    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime
        self._app = AppContext(
            settings=runtime.settings,
            db=runtime.db,
            temporal=TemporalConnector(runtime.settings, runtime.temporal),
        )

    def _caller(self) -> Caller:
        return Caller(app=self._app, principal=TTL_PRINCIPAL, via="system")

    async def _project(self, project_id: str) -> Project:
        async with self.rt.db.session() as session:
            project = await session.get(Project, project_id)
        if project is None:
            raise IntentError(f"project {project_id} no longer exists")
        return project

    async def _expired_project(self, project_id: str, *, archived_ok: bool = False) -> Project:
        """The project, if its TTL (as the database says: the workflow's input is not
        trusted, anyone on Temporal's port could start one) has really passed."""
        project = await self._project(project_id)
        if not _expired(project) and not (archived_ok and project.archived_at is not None):
            raise user_error(
                f"project {project.name} has not expired: its TTL cleanup does not run",
                "TtlNotExpired",
            )
        return project

    @activity.defn(name="ttl_expiry")
    async def expiry(self, input: TtlProjectInput) -> TtlReschedule:
        """When the project expires, as the database says (None: no TTL, archived, or
        the project is gone)."""
        async with self.rt.db.session() as session:
            project = await session.get(Project, input.project_id)
        if project is None or project.archived_at is not None:
            return TtlReschedule(expires_at=None)
        return TtlReschedule(expires_at=project.expires_at)

    @activity.defn(name="ttl_warn")
    async def warn(self, input: TtlWarnInput) -> None:
        left = (input.expires_at - utcnow()).total_seconds()
        async with self.rt.db.transaction() as session:
            await history.record(
                session,
                subject="project",
                operation="ttl-warning",
                status="warned",
                actor=self._caller().actor,
                project_id=input.project_id,
                reasons=[
                    f"expires at {input.expires_at.isoformat()} (in {max(0, round(left / 60))} "
                    "minutes): then every resource is deleted and the project is archived"
                ],
                after={"expires_at": input.expires_at.isoformat()},
            )

    @activity.defn(name="ttl_claim_lock")
    async def claim_lock(self, input: TtlLockInput) -> TtlLockResult:
        caller = self._caller()
        project = await self._project(input.project_id)
        if not _expired(project) or project.expires_at is None:
            # Moved or removed meanwhile (or never set: a workflow started by hand): the
            # clock follows the database.
            return TtlLockResult(acquired=False, expired=False, expires_at=project.expires_at)
        lease = await locks.lease(caller, project)
        holder = lease.holder if lease.held else None
        grace_over = (utcnow() - project.expires_at).total_seconds() >= (
            self.rt.settings.ttl_grace_seconds
        )
        if holder is not None and holder.id != TTL_PRINCIPAL.id:
            if not (input.force and grace_over):
                return TtlLockResult(acquired=False, holder=holder.name)
            await locks.force_release(
                caller,
                project,
                reason=f"project TTL: {holder.name} kept the lock past the grace period",
            )
        await locks.acquire(caller, project)
        return TtlLockResult(acquired=True)

    @activity.defn(name="ttl_start_cleanup")
    async def start_cleanup(self, input: TtlCleanupInput) -> TtlCleanupStarted:
        """One change deleting every resource (its id from ``change_key``: a retried
        attempt finds the change it already started)."""
        caller = self._caller()
        await self._expired_project(input.project_id)
        change_id = change_workflow_id(input.project_id, f"ttl-{input.change_key}")
        async with self.rt.db.session() as session:
            rows = await store_resources.list_resources(session, input.project_id)
            existing = await store_changes.get_change(session, change_id)
        if existing is not None:
            return TtlCleanupStarted(change_id=change_id, resources=len(existing.request))
        if not rows:
            return TtlCleanupStarted(change_id=None, resources=0)
        operations = [OperationInput(kind="delete", resource_id=r.resource_id) for r in rows]
        try:
            await change_svc.submit(caller, input.project_id, operations, change_id=change_id)
        except Conflict as exc:
            return TtlCleanupStarted(blocked=exc.message)
        return TtlCleanupStarted(change_id=change_id, resources=len(rows))

    @activity.defn(name="ttl_follow_cleanup")
    async def follow_cleanup(self, input: TtlProjectInput) -> TtlCleanupState:
        """Where the cleanup change is; confirm its deletes when it waits for that."""
        assert input.change_id is not None
        caller = self._caller()
        view = await change_svc.change_view(caller, input.change_id)
        review = any(op.status == "pending_review" for op in view.operations)
        if view.status == "awaiting_confirmation" and not review:
            with contextlib.suppress(Conflict):  # confirmed by an earlier attempt
                view = await change_svc.confirm(
                    caller, input.change_id, "the project's TTL expired: its resources go"
                )
        message = view.message or view.status
        if review:
            message = "a policy sent the cleanup to review: it waits for a reviewer"
        return TtlCleanupState(
            status=view.status, final=view.status in FINAL_STATUSES, message=message
        )

    @activity.defn(name="ttl_finish")
    async def finish(self, input: TtlOutcomeInput) -> TtlFinished:
        """Archive the emptied project, or keep it (without a TTL) and say why."""
        caller = self._caller()
        project = await self._expired_project(input.project_id, archived_ok=True)
        now = utcnow()
        async with self.rt.db.transaction() as session:
            row = await session.get(Project, project.id)
            assert row is not None
            # The database, not the input (anyone on Temporal's port could start this
            # workflow), says how the cleanup ended and whether anything is left.
            outcome = "applied"
            if input.change_id is not None:
                change = await store_changes.get_change(session, input.change_id)
                mine = change is not None and change.project_id == project.id
                outcome = change.status if mine and change is not None else "unknown"
            remaining = await store_resources.list_resources(session, project.id)
            archived = row.archived_at is not None or (outcome == "applied" and not remaining)
            if archived:
                row.archived_at = row.archived_at or now  # a retried attempt keeps it
                row.drift_interval_seconds = None
                message = (
                    f"project {project.name} expired: {input.resources} resource(s) deleted, "
                    "project archived (its history stays)"
                )
            else:
                row.expires_at = None
                row.ttl_set_by = None
                ended = f"ended {outcome}"
                if outcome == "applied":
                    ended += f" with {len(remaining)} resource(s) left"
                message = (
                    f"project {project.name} expired, but its cleanup change "
                    f"{input.change_id} {ended}: the project and its resources stay, "
                    "without a TTL"
                )
            await history.record(
                session,
                subject="project",
                operation="archive" if archived else "ttl-cleanup",
                status="succeeded" if archived else outcome,
                actor=caller.actor,
                project_id=project.id,
                change_id=input.change_id,
                reasons=[message],
            )
        if archived:
            await drift_svc.remove_schedule(caller, row)
        with contextlib.suppress(IntentError):
            await locks.release(caller, row)  # gone already if its lease lapsed
        return TtlFinished(archived=archived, message=message)
