"""Identities and their API keys (bearer tokens for scripts, CI and MCP clients)."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from access.scopes import ALL_SCOPES
from store import access as access_store
from store.models import ROOT_SPACE_ID, Identity, Token
from store.types import utcnow

__all__ = [
    "TOKEN_PREFIX",
    "count_identities",
    "count_live_keys",
    "create_token",
    "ensure_identity",
    "find_identity",
    "find_key",
    "hash_token",
    "list_tokens",
    "resolve_token",
    "revoke_token",
    "touch_key",
]

TOKEN_PREFIX = "intent_"
# A key's last use is written at most this often: a write per request would serialize
# every call on SQLite for a timestamp nobody needs to the second.
_TOUCH_SECONDS = 60


def hash_token(token: str) -> str:
    # Tokens carry 256 random bits, so a plain SHA-256 is enough: no dictionary to guard.
    return hashlib.sha256(token.encode()).hexdigest()


async def find_identity(session: AsyncSession, name: str) -> Identity | None:
    return await session.scalar(select(Identity).where(Identity.name == name))


async def ensure_identity(
    session: AsyncSession, name: str, *, kind: str = "human", roles: list[str] | None = None
) -> Identity:
    """The identity called ``name``, created if it does not exist yet; ``roles`` are
    bound to it in the root space (added, never taken away)."""
    identity = await find_identity(session, name)
    if identity is None:
        identity = Identity(name=name, kind=kind)
        session.add(identity)
        await session.flush()
    for role in roles or []:
        await access_store.bind(
            session, role=role, subject_kind="user", subject=identity.id, space_id=ROOT_SPACE_ID
        )
    return identity


async def create_token(
    session: AsyncSession,
    identity: Identity,
    name: str,
    *,
    expires_at: datetime | None = None,
    scopes: Sequence[str] = ALL_SCOPES,
    space_id: str | None = None,
    created_by: str | None = None,
) -> str:
    """Store a new API key for ``identity`` and return its clear value (shown once)."""
    clear = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(
        Token(
            identity_id=identity.id,
            name=name,
            token_hash=hash_token(clear),
            prefix=clear[: len(TOKEN_PREFIX) + 4],
            expires_at=expires_at,
            scopes=list(scopes),
            space_id=space_id,
            created_by=created_by,
        )
    )
    await session.flush()
    return clear


async def find_key(session: AsyncSession, clear: str) -> tuple[Token, Identity] | None:
    """The key with this clear value and its identity, live or not (callers say why not)."""
    row = (
        await session.execute(
            select(Token, Identity)
            .join(Identity, Identity.id == Token.identity_id)
            .where(Token.token_hash == hash_token(clear))
        )
    ).first()
    return None if row is None else (row[0], row[1])


async def touch_key(session: AsyncSession, token: Token) -> None:
    now = utcnow()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > _TOUCH_SECONDS:
        token.last_used_at = now


async def resolve_token(session: AsyncSession, clear: str) -> Identity | None:
    """The identity a live key belongs to, or None (unknown, revoked, expired, disabled)."""
    found = await find_key(session, clear)
    if found is None:
        return None
    token, identity = found
    if token.revoked_at is not None or identity.disabled_at is not None:
        return None
    if token.expires_at is not None and token.expires_at <= utcnow():
        return None
    await touch_key(session, token)
    return identity


async def count_identities(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(Identity)) or 0)


async def count_live_keys(session: AsyncSession, identity_id: str) -> int:
    """API keys of ``identity_id`` that still work (neither revoked nor expired)."""
    query = select(func.count()).where(
        Token.identity_id == identity_id,
        Token.revoked_at.is_(None),
        (Token.expires_at.is_(None)) | (Token.expires_at > utcnow()),
    )
    return int(await session.scalar(query) or 0)


async def list_tokens(
    session: AsyncSession, *, identity_id: str | None = None
) -> list[tuple[Token, Identity]]:
    query = select(Token, Identity).join(Identity, Identity.id == Token.identity_id)
    if identity_id is not None:
        query = query.where(Token.identity_id == identity_id)
    rows = await session.execute(query.order_by(Token.id))
    return [(token, identity) for token, identity in rows.all()]


async def revoke_token(
    session: AsyncSession, ref: str, *, identity_id: str | None = None
) -> Token | None:
    """Revoke the key with this id, or the one key whose shown prefix is ``ref`` (only
    among ``identity_id``'s keys when given)."""
    query = select(Token).where((Token.id == ref) | (Token.prefix == ref))
    if identity_id is not None:
        query = query.where(Token.identity_id == identity_id)
    found = list((await session.scalars(query)).all())
    if len(found) != 1:
        return None
    token = found[0]
    if token.revoked_at is None:
        token.revoked_at = utcnow()
    return token
