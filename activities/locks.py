"""Activities of ``ProjectLockWorkflow``: mirror the lease into the database."""

from __future__ import annotations

from temporalio import activity

from store import history, locks
from store.db import Database
from workflows.models import MirrorLockInput

__all__ = ["LockActivities"]


class LockActivities:
    def __init__(self, db: Database) -> None:
        self.db = db

    @activity.defn(name="mirror_lock")
    async def mirror_lock(self, input: MirrorLockInput) -> bool:
        """Write the lease and, for acquire/release/expiry, one history row, atomically."""
        async with self.db.transaction() as session:
            changed = await locks.mirror_lease(
                session,
                project_id=input.project_id,
                seq=input.seq,
                holder_id=input.holder_id,
                holder_name=input.holder_name,
                acquired_at=input.acquired_at,
                renewed_at=input.renewed_at,
                expires_at=input.expires_at,
            )
            if changed and input.event is not None:
                actor = input.actor
                system = input.event == "expire" or actor is None
                await history.record(
                    session,
                    subject="lock",
                    operation=input.event,
                    status="succeeded",
                    actor=history.SYSTEM if system or actor is None else actor,
                    project_id=input.project_id,
                    reasons=[input.reason] if input.reason else [],
                    details={"holder": actor.name if actor else None, "seq": input.seq},
                )
            return changed
