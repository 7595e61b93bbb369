"""Identities and their bearer tokens."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import Identity, Token
from store.types import utcnow

__all__ = [
    "TOKEN_PREFIX",
    "count_tokens",
    "create_token",
    "ensure_identity",
    "hash_token",
    "list_tokens",
    "resolve_token",
    "revoke_token",
]

TOKEN_PREFIX = "intent_"


def hash_token(token: str) -> str:
    # Tokens carry 256 random bits, so a plain SHA-256 is enough: no dictionary to guard.
    return hashlib.sha256(token.encode()).hexdigest()


async def ensure_identity(
    session: AsyncSession, name: str, *, kind: str = "human", roles: list[str] | None = None
) -> Identity:
    """The identity called ``name``, created (with ``roles``) if it does not exist yet."""
    found = await session.scalar(select(Identity).where(Identity.name == name))
    if found is not None:
        if roles is not None and set(roles) - set(found.roles):
            found.roles = sorted(set(found.roles) | set(roles))
        return found
    identity = Identity(name=name, kind=kind, roles=sorted(roles or []))
    session.add(identity)
    await session.flush()
    return identity


async def create_token(
    session: AsyncSession,
    identity: Identity,
    name: str,
    *,
    expires_at: datetime | None = None,
) -> str:
    """Store a new token for ``identity`` and return its clear value (shown once)."""
    clear = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(
        Token(
            identity_id=identity.id,
            name=name,
            token_hash=hash_token(clear),
            prefix=clear[: len(TOKEN_PREFIX) + 4],
            expires_at=expires_at,
        )
    )
    await session.flush()
    return clear


async def resolve_token(session: AsyncSession, clear: str) -> Identity | None:
    """The identity a live token belongs to, or None (unknown, revoked, expired)."""
    row = (
        await session.execute(
            select(Token, Identity)
            .join(Identity, Identity.id == Token.identity_id)
            .where(Token.token_hash == hash_token(clear))
        )
    ).first()
    if row is None:
        return None
    token, identity = row
    now = utcnow()
    if token.revoked_at is not None or identity.disabled_at is not None:
        return None
    if token.expires_at is not None and token.expires_at <= now:
        return None
    token.last_used_at = now
    return identity


async def count_tokens(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(Token)) or 0)


async def list_tokens(session: AsyncSession) -> list[tuple[Token, Identity]]:
    rows = await session.execute(
        select(Token, Identity).join(Identity, Identity.id == Token.identity_id).order_by(Token.id)
    )
    return [(token, identity) for token, identity in rows.all()]


async def revoke_token(session: AsyncSession, ref: str) -> Token | None:
    """Revoke the token with this id, or the one token whose shown prefix is ``ref``."""
    found = list(
        (
            await session.scalars(select(Token).where((Token.id == ref) | (Token.prefix == ref)))
        ).all()
    )
    if len(found) != 1:
        return None
    token = found[0]
    if token.revoked_at is None:
        token.revoked_at = utcnow()
    return token
