"""The bookkeeping room: the change's status mirror and its history rows.

Quick database writes, run as local activities (no task-queue round trip each).
"""

from __future__ import annotations

from temporalio import activity

from store import changes as store_changes
from store import history
from store.db import Database
from workflows.models import RecordInput, UpdateChangeInput

__all__ = ["BookkeepingActivities"]


class BookkeepingActivities:
    def __init__(self, db: Database) -> None:
        self.db = db

    @activity.defn(name="record_history")
    async def record_history(self, input: RecordInput) -> None:
        async with self.db.transaction() as session:
            for row in input.rows:
                await history.record(
                    session,
                    subject="resource",
                    operation=row.operation,
                    status=row.status,
                    actor=input.actor,
                    project_id=input.project_id,
                    change_id=input.change_id,
                    operation_index=row.index,
                    resource_id=row.resource_id,
                    resource_type=row.resource_type,
                    reasons=row.reasons,
                    before=row.before,
                    after=row.after,
                    details=row.details,
                )

    @activity.defn(name="update_change")
    async def update_change(self, input: UpdateChangeInput) -> None:
        async with self.db.transaction() as session:
            await store_changes.set_status(
                session, input.change_id, input.status, input.summary, final=input.final
            )
