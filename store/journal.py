"""The apply journal: one row per (change id, operation index), so an apply is idempotent.

A finished attempt's result is returned as is to any later attempt; ``calling`` marks,
durably, that the provider was about to act, so a retried attempt knows an earlier one
may have changed the cloud before its worker died.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from store.models import ApplyJournal
from store.types import utcnow

__all__ = ["finish", "mark_calling", "start"]


async def start(
    session: AsyncSession, change_id: str, index: int
) -> tuple[dict[str, Any] | None, bool]:
    """(recorded result of a finished attempt, whether an earlier attempt was interrupted
    after calling the provider). Opens or reopens the entry for this attempt."""
    entry = await session.get(ApplyJournal, (change_id, index), with_for_update=True)
    if entry is None:
        session.add(ApplyJournal(change_id=change_id, operation_index=index, status="started"))
        return None, False
    if entry.status == "applied":
        return entry.result, False
    # "calling": an earlier attempt died after asking the provider to act, so the
    # cloud may have changed; "started": it died before; "failed": a retry.
    interrupted = entry.status == "calling"
    entry.status = "started"
    entry.attempts += 1
    entry.started_at = utcnow()
    entry.finished_at = None
    return None, interrupted


async def mark_calling(session: AsyncSession, change_id: str, index: int) -> None:
    entry = await session.get(ApplyJournal, (change_id, index))
    if entry is not None:
        entry.status = "calling"


async def finish(
    session: AsyncSession, change_id: str, index: int, status: str, result: dict[str, Any]
) -> None:
    entry = await session.get(ApplyJournal, (change_id, index))
    if entry is None:
        entry = ApplyJournal(change_id=change_id, operation_index=index)
        session.add(entry)
    entry.status = status
    entry.result = result
    entry.finished_at = utcnow()
