"""History rows: every attempt, with its actor."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import Operation

__all__ = ["SYSTEM", "ActorLike", "list_history", "record"]


class ActorLike(Protocol):
    """Whoever acted: an API actor, a lock holder, or the system itself."""

    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def via(self) -> str: ...


@dataclass(frozen=True)
class _System:
    id: str = "system"
    name: str = "system"
    via: str = "system"


# Background events (a lease expiring) have no human actor; history still names one.
SYSTEM: ActorLike = _System()


async def record(
    session: AsyncSession,
    *,
    subject: str,
    operation: str,
    status: str,
    actor: ActorLike,
    project_id: str | None = None,
    change_id: str | None = None,
    operation_index: int | None = None,
    resource_id: str | None = None,
    resource_type: str | None = None,
    reasons: Sequence[str] = (),
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    details: dict[str, Any] | None = None,
    finished_at: datetime | None = None,
) -> Operation:
    row = Operation(
        subject=subject,
        operation=operation,
        status=status,
        actor_id=actor.id,
        actor_name=actor.name,
        via=actor.via,
        project_id=project_id,
        change_id=change_id,
        operation_index=operation_index,
        resource_id=resource_id,
        resource_type=resource_type,
        reasons=list(reasons),
        before=before,
        after=after,
        details=details or {},
        finished_at=finished_at,
    )
    session.add(row)
    await session.flush()
    return row


async def list_history(
    session: AsyncSession,
    *,
    project_id: str | None = None,
    change_id: str | None = None,
    resource_id: str | None = None,
    limit: int = 50,
    before_id: str | None = None,
) -> list[Operation]:
    """Newest first; ``before_id`` is the last id of the previous page (ULIDs sort by time)."""
    query = select(Operation).order_by(Operation.id.desc()).limit(limit)
    if project_id is not None:
        query = query.where(Operation.project_id == project_id)
    if change_id is not None:
        query = query.where(Operation.change_id == change_id)
    if resource_id is not None:
        query = query.where(Operation.resource_id == resource_id)
    if before_id is not None:
        query = query.where(Operation.id < before_id)
    return list((await session.scalars(query)).all())
