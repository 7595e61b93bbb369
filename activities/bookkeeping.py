"""The bookkeeping room: the change's status mirror and its history rows.

One write per stage of a change, both in one transaction: a local activity (no
task-queue round trip), or the apply stage's own activity, which records its start and,
when everything applied, the change's end, so the workflow waits for neither.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from temporalio import activity

from store import changes as store_changes
from store import history
from store.db import Database
from workflows.models import StageInput

__all__ = ["BookkeepingActivities", "write_stage"]


async def write_stage(session: AsyncSession, input: StageInput) -> bool:
    """A stage's status and history rows, in the caller's transaction, once: a stage
    already written (by a retried attempt, or by the activity that ran it) is skipped."""
    if not await store_changes.set_status(
        session,
        input.change_id,
        input.status,
        {"message": input.message},
        final=input.final,
        stage=input.seq,
    ):
        return False
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
    return True


class BookkeepingActivities:
    def __init__(self, db: Database) -> None:
        self.db = db

    @activity.defn(name="record_stage")
    async def record_stage(self, input: StageInput) -> None:
        async with self.db.transaction() as session:
            await write_stage(session, input)
