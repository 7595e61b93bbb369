"""Drift: the per-project schedule of drift checks (a Temporal Schedule), off by default.

Each run is a ``DriftCheckWorkflow`` that re-reads the project's resources and marks
what changed outside intent (``activities/drift.py``); ``state-list`` and the UI show the
marks. The interval lives on the project row; the schedule follows it.
"""

from __future__ import annotations

import math
from datetime import timedelta

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
from api.errors import Invalid, Unavailable
from store.models import Project
from workflows.drift import DriftCheckWorkflow, drift_schedule_id
from workflows.models import DriftCheckInput

__all__ = ["MAX_INTERVAL_SECONDS", "apply_schedule", "check_interval", "remove_schedule"]


# A year: beyond it a schedule is as good as off (and very large values do not fit
# Temporal's durations).
MAX_INTERVAL_SECONDS = 366 * 86400.0


def check_interval(caller: Caller, seconds: float | None) -> float | None:
    """A drift interval the settings allow (None or 0: off)."""
    if not seconds:
        return None
    if not math.isfinite(seconds) or seconds > MAX_INTERVAL_SECONDS:
        raise Invalid(
            f"a drift check every {seconds:g} s is too rare to schedule: give at most "
            f"{MAX_INTERVAL_SECONDS:g} s (a year), or turn the schedule off"
        )
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
