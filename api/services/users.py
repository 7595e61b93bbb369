"""Users: local accounts (argon2 passwords, one-time setup links) and upstream ones."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError

from api.context import Caller
from api.errors import Conflict, Invalid, NotFound
from api.oauth.login import password_problem
from api.services.access import require_admin
from store import audit, identities
from store import users as store_users
from store.models import Identity
from store.types import utcnow

__all__ = [
    "USER_NAME_PATTERN",
    "PasswordLinkView",
    "UserCreate",
    "UserView",
    "create_user",
    "list_users",
    "password_link",
    "set_disabled",
    "set_password",
]

USER_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$"
LINK_TTL = timedelta(hours=24)


class UserCreate(BaseModel):
    name: str = Field(pattern=USER_NAME_PATTERN, examples=["ana"])
    email: str | None = Field(default=None, max_length=320)
    password: str | None = Field(
        default=None, description="Omit to get a one-time link the user sets it with."
    )
    roles: list[str] = Field(default_factory=list)


class UserView(BaseModel):
    id: str
    name: str
    kind: str
    email: str | None
    roles: list[str]
    groups: list[str]
    upstream: bool
    has_password: bool
    created_at: datetime
    last_login_at: datetime | None
    disabled: bool

    @classmethod
    def build(cls, user: Identity) -> UserView:
        return cls(
            id=user.id,
            name=user.name,
            kind=user.kind,
            email=user.email,
            roles=list(user.roles),
            groups=list(user.groups),
            upstream=user.subject is not None,
            has_password=user.password_hash is not None,
            created_at=user.created_at,
            last_login_at=user.last_login_at,
            disabled=user.disabled_at is not None,
        )


class PasswordLinkView(BaseModel):
    user: str
    url: str = Field(description="Works once, for 24 hours. Hand it to the user privately.")
    expires_at: datetime


async def _hash(password: str) -> str:
    problem = password_problem(password)
    if problem:
        raise Invalid(f"password rejected: {problem}")
    return await asyncio.to_thread(store_users.hash_password, password)


async def _load(caller: Caller, name: str) -> Identity:
    async with caller.db.session() as session:
        user = await identities.find_identity(session, name)
    if user is None:
        raise NotFound(f"there is no user {name!r}; see `intent users list`")
    return user


async def create_user(caller: Caller, body: UserCreate) -> tuple[UserView, PasswordLinkView | None]:
    require_admin(caller, "create users")
    hashed = await _hash(body.password) if body.password is not None else None
    link: PasswordLinkView | None = None
    try:
        async with caller.db.transaction() as session:
            user = await store_users.create_user(
                session, body.name, email=body.email, password_hash=hashed
            )
            user.roles = sorted(set(body.roles))
            if hashed is None:
                clear = await store_users.create_password_link(session, user, ttl=LINK_TTL)
                link = _link_view(caller, user, clear)
            await audit.record(
                session,
                "user_created",
                subject_id=user.id,
                subject_name=user.name,
                details={"roles": user.roles},
                actor_id=caller.actor.id,
                actor_name=caller.actor.name,
            )
    except IntegrityError as exc:
        raise Conflict(f"a user or identity named {body.name!r} exists already") from exc
    return UserView.build(user), link


def _link_view(caller: Caller, user: Identity, clear: str) -> PasswordLinkView:
    return PasswordLinkView(
        user=user.name,
        url=f"{caller.settings.base_url}/ui/setup?token={clear}",
        expires_at=utcnow() + LINK_TTL,
    )


async def list_users(caller: Caller) -> list[UserView]:
    require_admin(caller, "list users")
    async with caller.db.session() as session:
        return [UserView.build(u) for u in await store_users.list_users(session)]


async def set_disabled(caller: Caller, name: str, disabled: bool) -> UserView:
    require_admin(caller, "disable or enable users")
    if disabled and name == caller.actor.name:
        raise Invalid("you cannot disable yourself; ask another admin")
    await _load(caller, name)
    async with caller.db.transaction() as session:
        user = await identities.find_identity(session, name)
        assert user is not None
        user.disabled_at = utcnow() if disabled else None
        await audit.record(
            session,
            "user_disabled" if disabled else "user_enabled",
            subject_id=user.id,
            subject_name=user.name,
            actor_id=caller.actor.id,
            actor_name=caller.actor.name,
        )
    return UserView.build(user)


async def set_password(caller: Caller, name: str, password: str) -> UserView:
    """A user sets their own password; an admin anyone's."""
    if name != caller.actor.name:
        require_admin(caller, f"set {name}'s password")
    hashed = await _hash(password)
    await _load(caller, name)
    async with caller.db.transaction() as session:
        user = await identities.find_identity(session, name)
        assert user is not None
        user.password_hash = hashed
        await audit.record(
            session,
            "password_set",
            subject_id=user.id,
            subject_name=user.name,
            actor_id=caller.actor.id,
            actor_name=caller.actor.name,
        )
    return UserView.build(user)


async def password_link(caller: Caller, name: str) -> PasswordLinkView:
    require_admin(caller, "issue password links")
    await _load(caller, name)
    async with caller.db.transaction() as session:
        user = await identities.find_identity(session, name)
        assert user is not None
        clear = await store_users.create_password_link(session, user, ttl=LINK_TTL)
    return _link_view(caller, user, clear)
