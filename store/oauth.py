"""The authorization server's records: clients, authorization codes and tokens.

Codes and tokens are stored as SHA-256 hashes only (they carry 256 random bits); the
clear values exist in the response that carries them and nowhere else.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from store.identities import hash_token
from store.models import Identity, OAuthClient, OAuthCode, OAuthToken
from store.types import new_id, utcnow

__all__ = [
    "ACCESS_PREFIX",
    "REFRESH_PREFIX",
    "CodeClaim",
    "IssuedTokens",
    "claim_code",
    "find_token",
    "get_client",
    "issue_tokens",
    "revoke_family",
    "revoke_identity",
    "revoke_token",
    "rotate_refresh_token",
    "save_client",
    "save_code",
]

ACCESS_PREFIX = "intent_at_"
REFRESH_PREFIX = "intent_rt_"


async def get_client(session: AsyncSession, client_id: str) -> OAuthClient | None:
    return await session.get(OAuthClient, client_id)


async def save_client(session: AsyncSession, client: OAuthClient) -> OAuthClient:
    """Insert a client, or replace the cached copy of a metadata document."""
    merged = await session.merge(client)
    await session.flush()
    return merged


async def save_code(
    session: AsyncSession,
    *,
    code: str,
    client_id: str,
    identity_id: str,
    redirect_uri: str,
    scopes: list[str],
    audience: list[str],
    code_challenge: str,
    code_challenge_method: str,
    ttl: timedelta,
) -> OAuthCode:
    row = OAuthCode(
        code_hash=hash_token(code),
        client_id=client_id,
        identity_id=identity_id,
        redirect_uri=redirect_uri,
        scopes=scopes,
        audience=audience,
        code_challenge=code_challenge,
        code_challenge_method=code_challenge_method,
        family_id=new_id(),
        expires_at=utcnow() + ttl,
    )
    session.add(row)
    await session.flush()
    return row


@dataclass(frozen=True)
class CodeClaim:
    """What presenting a code found: the code, and whether this was its first use."""

    code: OAuthCode | None
    first_use: bool


async def claim_code(session: AsyncSession, code: str, client_id: str) -> CodeClaim:
    """Spend a code atomically: two concurrent exchanges cannot both succeed."""
    digest = hash_token(code)
    row = await session.scalar(
        select(OAuthCode).where(OAuthCode.code_hash == digest, OAuthCode.client_id == client_id)
    )
    if row is None:
        return CodeClaim(None, False)
    spent = await session.execute(
        update(OAuthCode)
        .where(OAuthCode.code_hash == digest, OAuthCode.used_at.is_(None))
        .values(used_at=utcnow())
    )
    return CodeClaim(row, bool(spent.rowcount == 1))  # type: ignore[attr-defined]


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    refresh_token: str | None
    expires_in: int


async def issue_tokens(
    session: AsyncSession,
    *,
    identity_id: str,
    client_id: str,
    scopes: list[str],
    audience: list[str],
    family_id: str,
    access_ttl: timedelta,
    refresh_ttl: timedelta | None,
) -> IssuedTokens:
    """A new access token (and refresh token, when ``refresh_ttl``) in one family."""
    now = utcnow()
    access = ACCESS_PREFIX + secrets.token_urlsafe(32)
    refresh = REFRESH_PREFIX + secrets.token_urlsafe(32) if refresh_ttl else None
    common = {
        "client_id": client_id,
        "identity_id": identity_id,
        "scopes": scopes,
        "audience": audience,
        "family_id": family_id,
    }
    session.add(
        OAuthToken(
            token_hash=hash_token(access), kind="access", expires_at=now + access_ttl, **common
        )
    )
    if refresh is not None and refresh_ttl is not None:
        session.add(
            OAuthToken(
                token_hash=hash_token(refresh),
                kind="refresh",
                expires_at=now + refresh_ttl,
                **common,
            )
        )
    await session.flush()
    return IssuedTokens(access, refresh, int(access_ttl.total_seconds()))


async def find_token(session: AsyncSession, clear: str) -> tuple[OAuthToken, Identity] | None:
    row = (
        await session.execute(
            select(OAuthToken, Identity)
            .join(Identity, Identity.id == OAuthToken.identity_id)
            .where(OAuthToken.token_hash == hash_token(clear))
        )
    ).first()
    return None if row is None else (row[0], row[1])


async def rotate_refresh_token(session: AsyncSession, token_id: str) -> bool:
    """Mark a refresh token used; False when it already was (a replay)."""
    done = await session.execute(
        update(OAuthToken)
        .where(OAuthToken.id == token_id, OAuthToken.rotated_at.is_(None))
        .values(rotated_at=utcnow())
    )
    return bool(done.rowcount == 1)  # type: ignore[attr-defined]


async def revoke_family(session: AsyncSession, family_id: str) -> int:
    """Revoke every token of one sign-in; returns how many were still live."""
    done = await session.execute(
        update(OAuthToken)
        .where(OAuthToken.family_id == family_id, OAuthToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return int(done.rowcount)  # type: ignore[attr-defined]


async def revoke_token(session: AsyncSession, token_id: str) -> None:
    await session.execute(
        update(OAuthToken)
        .where(OAuthToken.id == token_id, OAuthToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


async def revoke_identity(session: AsyncSession, identity_id: str) -> int:
    """End every app sign-in of a user: revoke their live tokens and expire the codes not
    yet exchanged. Returns how many sign-ins (token families) ended."""
    now = utcnow()
    live = OAuthToken.identity_id == identity_id, OAuthToken.revoked_at.is_(None)
    families = set((await session.scalars(select(OAuthToken.family_id).where(*live))).all())
    await session.execute(update(OAuthToken).where(*live).values(revoked_at=now))
    await session.execute(
        update(OAuthCode)
        .where(
            OAuthCode.identity_id == identity_id,
            OAuthCode.used_at.is_(None),
            OAuthCode.expires_at > now,
        )
        .values(expires_at=now)
    )
    return len(families)
