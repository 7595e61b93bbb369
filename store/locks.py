"""The lock mirror: what ``ProjectLockWorkflow`` last reported, for reads without Temporal."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from store.models import ProjectLock
from store.types import utcnow

__all__ = ["mirror_lease"]


async def mirror_lease(
    session: AsyncSession,
    *,
    project_id: str,
    seq: int,
    holder_id: str | None,
    holder_name: str | None,
    acquired_at: datetime | None,
    renewed_at: datetime | None,
    expires_at: datetime | None,
) -> bool:
    """Write the lease unless a newer one (higher ``seq``) is already mirrored.

    Returns whether the row changed. Activity retries and reordering make stale writes
    possible; the sequence number makes them harmless.
    """
    row = await session.get(ProjectLock, project_id, with_for_update=True)
    if row is None:
        row = ProjectLock(project_id=project_id, seq=-1)
        session.add(row)
    elif row.seq >= seq:
        return False
    row.seq = seq
    row.holder_id = holder_id
    row.holder_name = holder_name
    row.acquired_at = acquired_at
    row.renewed_at = renewed_at
    row.expires_at = expires_at
    row.updated_at = utcnow()
    await session.flush()
    return True
