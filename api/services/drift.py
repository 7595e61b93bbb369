"""Drift: the per-project schedule of drift checks (a Temporal Schedule), off by default.

Each run is a ``DriftCheckWorkflow`` that re-reads the project's resources and marks
what changed outside intent (``activities/drift.py``); ``state-list`` and the UI show the
marks. The interval lives on the project row; the schedule follows it.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, Field
from temporalio.client import (
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.service import RPCError, RPCStatusCode

from api.context import Caller
from api.errors import Forbidden, Invalid, Unavailable
from api.services import locks
from api.services.projects import load_project
from store import history
from store.models import Project
from workflows.drift import DriftCheckWorkflow, drift_schedule_id
from workflows.models import DriftCheckInput

__all__ = ["DriftSchedule", "apply_schedule", "check_interval", "remove_schedule", "set_interval"]


def check_interval(caller: Caller, seconds: float | None) -> float | None:
    """A drift interval the settings allow (None or 0: off)."""
    if not seconds:
        return None
    floor = caller.settings.drift_min_interval_seconds
    if seconds < floor:
        raise Invalid(
            f"a drift check every {seconds:g} s is too often: the shortest interval on this "
            f"server is {floor:g} s (INTENT_DRIFT_MIN_INTERVAL_SECONDS)"
        )
    return float(seconds)


def _schedule(caller: Caller, project: Project, seconds: float) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            DriftCheckWorkflow.run,
            DriftCheckInput(project_id=project.id),
            id=f"drift-{project.id}",
            task_queue=caller.settings.temporal_task_queue,
            static_summary=f"{project.name}: drift check",
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(seconds=seconds))]),
        # A slow check is never overlapped by the next one.
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )


async def apply_schedule(caller: Caller, project: Project) -> None:
    """Create, change or remove the project's schedule to match its interval."""
    seconds = project.drift_interval_seconds
    if not seconds or project.archived_at is not None:
        await remove_schedule(caller, project)
        return
    client = await caller.temporal()
    schedule = _schedule(caller, project, seconds)
    handle = client.get_schedule_handle(drift_schedule_id(project.id))

    def replace(_: ScheduleUpdateInput) -> ScheduleUpdate:
        return ScheduleUpdate(schedule=schedule)

    try:
        await handle.update(replace)
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise Unavailable(f"the drift schedule could not be changed: {exc}") from exc
        try:
            await client.create_schedule(drift_schedule_id(project.id), schedule)
        except RPCError as created:
            raise Unavailable(f"the drift schedule could not be created: {created}") from created


async def remove_schedule(caller: Caller, project: Project) -> None:
    client = await caller.temporal()
    try:
        await client.get_schedule_handle(drift_schedule_id(project.id)).delete()
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise Unavailable(f"the drift schedule could not be removed: {exc}") from exc


class DriftSchedule(BaseModel):
    project: str
    interval_seconds: float | None = Field(description="Seconds between checks; null: off")
    schedule_id: str | None = None


async def set_interval(caller: Caller, ref: str, seconds: float | None) -> DriftSchedule:
    """Turn the project's drift schedule on (every ``seconds``), change it, or off.

    The lock holder or an admin may: like the project's integrations, it decides what
    runs with the project's credentials."""
    project = await load_project(caller, ref)
    if not caller.actor.is_admin:
        lease = await locks.lease(caller, project)
        if not (lease.held and lease.holder is not None and lease.holder.id == caller.actor.id):
            raise Forbidden(
                f"changing project {project.name}'s drift schedule needs the admin role or the "
                "project's lock (project-use)"
            )
    interval = check_interval(caller, seconds)
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
    await apply_schedule(caller, row)
    return DriftSchedule(
        project=project.name,
        interval_seconds=interval,
        schedule_id=drift_schedule_id(project.id) if interval else None,
    )
