"""The authentication audit trail, for admins."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from api.context import Caller
from api.services.access import require_root
from store import audit as store_audit
from store.models import AuthEvent

__all__ = ["AuthEventPage", "AuthEventView", "list_events"]


class AuthEventView(BaseModel):
    id: str
    created_at: datetime
    event: str
    outcome: str
    subject: str | None
    actor: str | None
    client_id: str | None
    ip: str | None
    details: dict[str, Any]

    @classmethod
    def build(cls, row: AuthEvent) -> AuthEventView:
        return cls(
            id=row.id,
            created_at=row.created_at,
            event=row.event,
            outcome=row.outcome,
            subject=row.subject_name,
            actor=row.actor_name,
            client_id=row.client_id,
            ip=row.ip,
            details=row.details,
        )


class AuthEventPage(BaseModel):
    events: list[AuthEventView]
    next_cursor: str | None


async def list_events(
    caller: Caller,
    *,
    limit: int = 100,
    cursor: str | None = None,
    event: str | None = None,
    subject: str | None = None,
) -> AuthEventPage:
    require_root(caller, "intent-audit:read")
    limit = max(1, min(limit, 500))
    async with caller.db.session() as session:
        rows = await store_audit.list_events(
            session, limit=limit + 1, before_id=cursor, event=event, subject=subject
        )
    page = rows[:limit]
    return AuthEventPage(
        events=[AuthEventView.build(r) for r in page],
        next_cursor=page[-1].id if len(rows) > limit else None,
    )
