"""The authentication audit trail: who signed in (or failed to), what was granted to
which client, which tokens and keys were issued or revoked, which roles were bound."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.history import ActorLike
from store.models import AuthEvent

__all__ = ["EVENTS", "count_failures", "list_events", "record"]

EVENTS = frozenset(
    {
        "login",
        "logout",
        "password_set",
        "consent",
        "client_registered",
        "token_issued",
        "token_refreshed",
        "token_revoked",
        "refresh_reuse",
        "code_reuse",
        "key_created",
        "key_revoked",
        "user_created",
        "user_disabled",
        "user_enabled",
        "role_created",
        "role_updated",
        "role_deleted",
        "role_bound",
        "role_unbound",
        "space_created",
        "space_deleted",
    }
)


async def record(
    session: AsyncSession,
    event: str,
    *,
    outcome: str = "succeeded",
    subject_id: str | None = None,
    subject_name: str | None = None,
    actor: ActorLike | None = None,
    client_id: str | None = None,
    ip: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuthEvent:
    """Add one event (in the caller's transaction). ``actor`` is who did it when that is
    someone else than the subject (an admin binding a role). Never pass a secret in
    ``details``."""
    if event not in EVENTS:
        raise ValueError(f"unknown auth event {event!r}")
    row = AuthEvent(
        event=event,
        outcome=outcome,
        subject_id=subject_id,
        subject_name=subject_name,
        actor_id=actor.id if actor is not None else None,
        actor_name=actor.name if actor is not None else None,
        client_id=client_id,
        ip=ip,
        details=details or {},
    )
    session.add(row)
    await session.flush()
    return row


async def count_failures(
    session: AsyncSession, *, name: str | None, ip: str | None, since: datetime
) -> tuple[int, int]:
    """Failed sign-ins since ``since``: for this user name, and from this address."""

    async def count(column: Any, value: str | None) -> int:
        if value is None:
            return 0
        query = select(func.count()).where(
            AuthEvent.event == "login",
            AuthEvent.outcome == "failed",
            column == value,
            AuthEvent.created_at >= since,
        )
        return int(await session.scalar(query) or 0)

    return await count(AuthEvent.subject_name, name), await count(AuthEvent.ip, ip)


async def list_events(
    session: AsyncSession,
    *,
    limit: int = 100,
    before_id: str | None = None,
    event: str | None = None,
    subject: str | None = None,
) -> list[AuthEvent]:
    query = select(AuthEvent)
    if before_id:
        query = query.where(AuthEvent.id < before_id)
    if event:
        query = query.where(AuthEvent.event == event)
    if subject:
        query = query.where(AuthEvent.subject_name == subject)
    rows = await session.scalars(query.order_by(AuthEvent.id.desc()).limit(limit))
    return list(rows.all())
