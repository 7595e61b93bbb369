"""Users: local accounts with argon2-hashed passwords, one-time password links, and
users who sign in through the upstream OpenID Connect provider."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from store import oauth as store_oauth
from store import sessions as store_sessions
from store.identities import find_identity, hash_token
from store.models import Identity, PasswordLink
from store.types import utcnow

__all__ = [
    "MIN_PASSWORD_LENGTH",
    "SignedOut",
    "create_password_link",
    "create_user",
    "hash_password",
    "list_users",
    "open_password_link",
    "set_password_hash",
    "upstream_user",
    "use_password_link",
    "verify_password",
]

MIN_PASSWORD_LENGTH = 12
# argon2id with the library's defaults (RFC 9106's second recommended option).
_hasher = PasswordHasher()


@cache
def _dummy_hash() -> str:
    # Verifying against this keeps a login for an unknown name as slow as one for a real
    # user, so timing does not reveal which names exist.
    return str(_hasher.hash(secrets.token_urlsafe(16)))


def hash_password(password: str) -> str:
    """The argon2 hash to store (CPU-bound: call it off the event loop)."""
    return str(_hasher.hash(password))


def verify_password(identity: Identity | None, password: str) -> bool:
    """Whether ``password`` is ``identity``'s (CPU-bound: call it off the event loop).

    Upgrades the stored hash in place when the hasher's parameters changed.
    """
    stored = identity.password_hash if identity is not None else None
    try:
        _hasher.verify(stored or _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return False
    if identity is None or stored is None:
        return False
    if _hasher.check_needs_rehash(stored):
        identity.password_hash = _hasher.hash(password)
    return True


async def create_user(
    session: AsyncSession, name: str, *, email: str | None = None, password_hash: str | None = None
) -> Identity:
    user = Identity(name=name, kind="human", email=email, password_hash=password_hash)
    session.add(user)
    await session.flush()
    return user


async def list_users(session: AsyncSession) -> list[Identity]:
    return list((await session.scalars(select(Identity).order_by(Identity.name))).all())


async def create_password_link(
    session: AsyncSession, identity: Identity, *, ttl: timedelta = timedelta(hours=24)
) -> str:
    """A one-time secret that lets ``identity`` set a password; only its hash is kept."""
    clear = secrets.token_urlsafe(32)
    session.add(
        PasswordLink(
            identity_id=identity.id, token_hash=hash_token(clear), expires_at=utcnow() + ttl
        )
    )
    await session.flush()
    return clear


async def open_password_link(session: AsyncSession, clear: str) -> Identity | None:
    """The user a live (unused, unexpired) link belongs to."""
    row = (
        await session.execute(
            select(PasswordLink, Identity)
            .join(Identity, Identity.id == PasswordLink.identity_id)
            .where(PasswordLink.token_hash == hash_token(clear))
        )
    ).first()
    if row is None:
        return None
    link, identity = row
    if link.used_at is not None or link.expires_at <= utcnow() or identity.disabled_at:
        return None
    return identity


@dataclass(frozen=True)
class SignedOut:
    """What setting a password ended: web sessions and app (OAuth) sign-ins. API keys
    are separate credentials and stay."""

    sessions: int
    app_sign_ins: int

    def details(self) -> dict[str, int]:
        return {"sessions_ended": self.sessions, "app_sign_ins_revoked": self.app_sign_ins}


async def set_password_hash(
    session: AsyncSession, identity: Identity, password_hash: str
) -> SignedOut:
    """Set a new password and end every sign-in made before it (in the caller's
    transaction): whoever knew the old one, or holds a session or token obtained with
    it, is out."""
    identity.password_hash = password_hash
    return SignedOut(
        sessions=await store_sessions.close_sessions_of(session, identity.id),
        app_sign_ins=await store_oauth.revoke_identity(session, identity.id),
    )


async def use_password_link(
    session: AsyncSession, clear: str, password_hash: str
) -> tuple[Identity, SignedOut] | None:
    """Set the password through a live link and spend the link (in the caller's transaction)."""
    identity = await open_password_link(session, clear)
    if identity is None:
        return None
    link = await session.scalar(
        select(PasswordLink).where(PasswordLink.token_hash == hash_token(clear))
    )
    assert link is not None
    link.used_at = utcnow()
    return identity, await set_password_hash(session, identity, password_hash)


async def upstream_user(
    session: AsyncSession,
    *,
    subject: str,
    name: str,
    email: str | None,
    groups: list[str],
) -> Identity:
    """The user an upstream sign-in names, created on first sign-in; groups are refreshed
    every time (they carry the role bindings of the groups the provider says)."""
    user = await session.scalar(select(Identity).where(Identity.subject == subject))
    if user is None:
        taken = await find_identity(session, name)
        # A local account with the same name is a different person until an admin
        # links them: keep both apart.
        unique = name if taken is None else f"{name}-{secrets.token_hex(3)}"
        user = Identity(name=unique, kind="human", email=email, subject=subject)
        session.add(user)
    user.email = email or user.email
    user.groups = sorted(set(groups))
    await session.flush()
    return user
