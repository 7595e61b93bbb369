"""``DriftCheckWorkflow``: one scheduled drift check of a project.

Started by the project's Temporal Schedule (``drift-<project id>``, overlap: skip), so a
project's checks never pile up; the check itself reads only (``activities/drift.py``), on
the project's worker pool if it has one. A check started for a project without a drift
schedule (by hand, on Temporal's port) does nothing.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.drift import DriftActivities
    from workflows.models import DriftCheckInput, DriftReport
    from workflows.temporal import pool_queue

__all__ = ["DriftCheckWorkflow", "drift_schedule_id"]


# A project on a worker pool: how long a check waits for one of its workers.
_POOL_WAIT = timedelta(minutes=10)


def drift_schedule_id(project_id: str) -> str:
    return f"drift-{project_id}"


@workflow.defn
class DriftCheckWorkflow:
    @workflow.run
    async def run(self, input: DriftCheckInput) -> DriftReport:
        target = await workflow.execute_activity_method(
            DriftActivities.drift_target,
            input,
            start_to_close_timeout=timedelta(minutes=1),
            retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=10)),
        )
        if not target.scheduled:
            return DriftReport(project_id=input.project_id, checked=0)
        return await workflow.execute_activity_method(
            DriftActivities.check_drift,
            input.model_copy(update={"pool": target.pool}),
            task_queue=pool_queue(target.pool) if target.pool else None,
            schedule_to_start_timeout=_POOL_WAIT if target.pool else None,
            start_to_close_timeout=timedelta(hours=1),
            heartbeat_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(maximum_attempts=3, maximum_interval=timedelta(seconds=30)),
        )
