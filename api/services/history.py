"""History: every attempt on a project, newest first."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from api.context import Caller
from api.services.changes import current_project
from store import history as store_history
from store.models import Operation

__all__ = ["HistoryEntry", "HistoryPage", "project_history"]


class HistoryEntry(BaseModel):
    id: str
    created_at: datetime
    subject: str
    operation: str
    status: str
    actor: str
    via: str
    change_id: str | None
    resource_id: str | None
    resource_type: str | None
    reasons: list[str]
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    changes: list[dict[str, Any]] = Field(
        default_factory=list,
        description="What an applied operation changed: [{attribute, before, after}] "
        "(sensitive values redacted, marked sensitive)",
    )
    details: dict[str, Any]

    @classmethod
    def build(cls, row: Operation) -> HistoryEntry:
        return cls(
            id=row.id,
            created_at=row.created_at,
            subject=row.subject,
            operation=row.operation,
            status=row.status,
            actor=row.actor_name,
            via=row.via,
            change_id=row.change_id,
            resource_id=row.resource_id,
            resource_type=row.resource_type,
            reasons=list(row.reasons),
            before=row.before,
            after=row.after,
            changes=list(row.details.get("changes") or []),
            details={k: v for k, v in row.details.items() if k != "changes"},
        )


class HistoryPage(BaseModel):
    project: str
    entries: list[HistoryEntry]
    next_cursor: str | None


async def project_history(
    caller: Caller,
    project_ref: str | None,
    *,
    resource_id: str | None = None,
    change_id: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> HistoryPage:
    project = await current_project(caller, project_ref)
    limit = max(1, min(limit, 200))
    async with caller.db.session() as session:
        rows = await store_history.list_history(
            session,
            project_id=project.id,
            resource_id=resource_id,
            change_id=change_id,
            limit=limit + 1,
            before_id=cursor,
        )
    page = rows[:limit]
    return HistoryPage(
        project=project.name,
        entries=[HistoryEntry.build(r) for r in page],
        next_cursor=page[-1].id if len(rows) > limit else None,
    )
