"""Browser sessions of the web UI (and of the OAuth login and consent pages).

The cookie holds a random secret; only its SHA-256 is stored.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from store.identities import hash_token
from store.models import Identity, Token, UiSession
from store.types import utcnow

__all__ = ["OpenSession", "close_session", "close_sessions_of", "find_session", "open_session"]


async def open_session(
    session: AsyncSession,
    identity: Identity,
    *,
    method: str,
    ttl: timedelta,
    key_id: str | None = None,
) -> str:
    clear = secrets.token_urlsafe(32)
    session.add(
        UiSession(
            token_hash=hash_token(clear),
            identity_id=identity.id,
            key_id=key_id,
            method=method,
            expires_at=utcnow() + ttl,
        )
    )
    await session.flush()
    return clear


@dataclass(frozen=True)
class OpenSession:
    row: UiSession
    identity: Identity
    key: Token | None


async def find_session(session: AsyncSession, clear: str) -> OpenSession | None:
    """A live session: not expired, not closed, its user enabled, its key (if any) live."""
    row = (
        await session.execute(
            select(UiSession, Identity)
            .join(Identity, Identity.id == UiSession.identity_id)
            .where(UiSession.token_hash == hash_token(clear))
        )
    ).first()
    if row is None:
        return None
    ui, identity = row
    now = utcnow()
    if ui.revoked_at is not None or ui.expires_at <= now or identity.disabled_at is not None:
        return None
    key = await session.get(Token, ui.key_id) if ui.key_id else None
    if key is not None and (
        key.revoked_at is not None or (key.expires_at is not None and key.expires_at <= now)
    ):
        return None
    return OpenSession(ui, identity, key)


async def close_session(session: AsyncSession, clear: str) -> UiSession | None:
    row = await session.scalar(select(UiSession).where(UiSession.token_hash == hash_token(clear)))
    if row is not None:
        await session.execute(
            update(UiSession).where(UiSession.id == row.id).values(revoked_at=utcnow())
        )
    return row


async def close_sessions_of(session: AsyncSession, identity_id: str) -> int:
    """End every live web session of a user; returns how many there were."""
    done = await session.execute(
        update(UiSession)
        .where(UiSession.identity_id == identity_id, UiSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return int(done.rowcount)  # type: ignore[attr-defined]
