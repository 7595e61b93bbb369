"""``DriftCheckWorkflow``: one scheduled drift check of a project.

Started by the project's Temporal Schedule (``drift-<project id>``, overlap: skip), so a
project's checks never pile up; the check itself reads only (``activities/drift.py``).
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.drift import DriftActivities
    from workflows.models import DriftCheckInput, DriftReport

__all__ = ["DriftCheckWorkflow", "drift_schedule_id"]


def drift_schedule_id(project_id: str) -> str:
    return f"drift-{project_id}"


@workflow.defn
class DriftCheckWorkflow:
    @workflow.run
    async def run(self, input: DriftCheckInput) -> DriftReport:
        return await workflow.execute_activity_method(
            DriftActivities.check_drift,
            input,
            start_to_close_timeout=timedelta(hours=1),
            heartbeat_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(maximum_attempts=3, maximum_interval=timedelta(seconds=30)),
        )
