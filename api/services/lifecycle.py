"""Changing a project's lifecycle settings: its TTL and its drift schedule.

- A first TTL, or an earlier one, schedules a cleanup: who sets it must be allowed to
  update the project, delete its resources and confirm that (``ttl_refusal``).
- A later TTL, or none, is an extension: ``intent-project:extend-ttl`` (space admins).
- The drift schedule is a project update too.

Every change is recorded in history; the clocks (``ttl``, ``drift``) follow the row.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from access.permissions import ttl_refusal
from api.context import Caller
from api.errors import Conflict
from api.services import changes, drift, ttl
from api.services.access import deny
from api.services.projects import load_project, project_path
from store import history
from store import resources as store_resources
from store.models import Project
from store.types import utcnow
from workflows.drift import drift_schedule_id

__all__ = ["DriftSchedule", "TtlView", "destroy_resources", "set_drift_interval", "set_ttl"]


# What removes a TTL, besides null.
_OFF = frozenset({"off", "none", ""})


class TtlView(BaseModel):
    project: str
    expires_at: datetime | None
    set_by: str | None = None
    message: str


class DriftSchedule(BaseModel):
    project: str
    interval_seconds: float | None = Field(description="Seconds between checks; null: off")
    schedule_id: str | None = None


async def set_ttl(caller: Caller, ref: str, value: str | None) -> TtlView:
    """Set, move or (``value`` None, or "off") remove the project's expiry."""
    if value is not None and value.strip().lower() in _OFF:
        value = None
    project = await load_project(caller, ref)
    if project.archived_at is not None:
        raise Conflict(f"project {project.name} is archived; it has no TTL any more")
    path = await project_path(caller, project)
    now = utcnow()
    expires_at = ttl.expiry_from(value, now) if value else None
    current = project.expires_at
    extends = current is not None and (expires_at is None or expires_at > current)
    deny(ttl_refusal(caller.principal, path, extends=extends))
    if expires_at is not None:
        ttl.checked_expiry(caller.settings, path, expires_at, now)
    async with caller.db.transaction() as session:
        row = await session.get(Project, project.id)
        assert row is not None
        row.expires_at = expires_at
        row.ttl_set_by = caller.actor.name if expires_at else None
        await history.record(
            session,
            subject="project",
            operation="ttl-extend" if extends else "ttl-set",
            status="succeeded",
            actor=caller.actor,
            project_id=project.id,
            before={"expires_at": current.isoformat() if current else None},
            after={"expires_at": expires_at.isoformat() if expires_at else None},
        )
    await ttl.start_clock(caller, row)
    message = (
        f"project {project.name} expires at {expires_at.isoformat()}: then its resources are "
        "deleted (under its policies) and it is archived"
        if expires_at
        else f"project {project.name} has no TTL"
    )
    return TtlView(
        project=project.name, expires_at=expires_at, set_by=row.ttl_set_by, message=message
    )


async def set_drift_interval(caller: Caller, ref: str, seconds: float | None) -> DriftSchedule:
    """Turn the project's drift schedule on (every ``seconds``), change it, or off."""
    project = await load_project(caller, ref, "intent-project:update")
    if project.archived_at is not None and seconds:
        raise Conflict(f"project {project.name} is archived: there is nothing to check")
    interval = drift.check_interval(caller, seconds)
    async with caller.db.transaction() as session:
        row = await session.get(Project, project.id)
        assert row is not None
        before = row.drift_interval_seconds
        row.drift_interval_seconds = interval
        await history.record(
            session,
            subject="project",
            operation="drift-schedule",
            status="succeeded",
            actor=caller.actor,
            project_id=project.id,
            before={"interval_seconds": before},
            after={"interval_seconds": interval},
        )
    try:
        await drift.apply_schedule(caller, row)
    except Exception:
        # Nothing half-applied: the row goes back to the schedule Temporal still has.
        async with caller.db.transaction() as session:
            undone = await session.get(Project, project.id)
            if undone is not None:
                undone.drift_interval_seconds = before
        raise
    return DriftSchedule(
        project=project.name,
        interval_seconds=interval,
        schedule_id=drift_schedule_id(project.id) if interval else None,
    )


async def destroy_resources(caller: Caller, ref: str) -> str | None:
    """Start the change that deletes every resource of a project about to be deleted
    (planned, policy-checked and confirmed like any delete); None if there are none."""
    project = await load_project(caller, ref, "intent-project:delete")
    async with caller.db.session() as session:
        rows = await store_resources.list_resources(session, project.id)
    if not rows:
        return None
    return await changes.submit(
        caller,
        project.id,
        [changes.OperationInput(kind="delete", resource_id=r.resource_id) for r in rows],
    )
