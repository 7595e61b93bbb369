"""Users: local accounts (argon2 passwords, one-time setup links) and upstream ones."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError

from api.context import Caller
from api.errors import Conflict, Invalid, NotFound
from api.oauth.login import password_problem
from api.services.access import require_root
from store import access as access_store
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
    roles: list[str] = Field(
        default_factory=list, description="Roles to bind in the root space (more: role bindings)"
    )


class UserView(BaseModel):
    id: str
    name: str
    kind: str
    email: str | None
    roles: list[str] = Field(description="Role bindings held directly, as role@space")
    groups: list[str]
    upstream: bool
    has_password: bool
    created_at: datetime
    last_login_at: datetime | None
    disabled: bool

    @classmethod
    def build(cls, user: Identity, roles: list[str]) -> UserView:
        return cls(
            id=user.id,
            name=user.name,
            kind=user.kind,
            email=user.email,
            roles=roles,
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


USER_ADMIN = "intent-user:manage"


async def _roles_of(caller: Caller, identity_ids: list[str]) -> dict[str, list[str]]:
    """Each identity's direct bindings, as role@space-name."""
    async with caller.db.session() as session:
        rows = await access_store.list_bindings(session, subject_kind="user")
        spaces = await access_store.space_map(session)
    out: dict[str, list[str]] = {i: [] for i in identity_ids}
    for row in rows:
        if row.subject in out:
            out[row.subject].append(f"{row.role}@{spaces.get(row.space_id, (row.space_id,))[0]}")
    return out


async def _view(caller: Caller, user: Identity) -> UserView:
    return UserView.build(user, (await _roles_of(caller, [user.id]))[user.id])


async def create_user(caller: Caller, body: UserCreate) -> tuple[UserView, PasswordLinkView | None]:
    require_root(caller, USER_ADMIN)
    hashed = await _hash(body.password) if body.password is not None else None
    link: PasswordLinkView | None = None
    try:
        async with caller.db.transaction() as session:
            user = await store_users.create_user(
                session, body.name, email=body.email, password_hash=hashed
            )
            for role in sorted(set(body.roles)):
                await access_store.bind(
                    session,
                    role=role,
                    subject_kind="user",
                    subject=user.id,
                    created_by=caller.actor.id,
                )
            if hashed is None:
                clear = await store_users.create_password_link(session, user, ttl=LINK_TTL)
                link = _link_view(caller, user, clear)
            await audit.record(
                session,
                "user_created",
                subject_id=user.id,
                subject_name=user.name,
                details={"roles": sorted(set(body.roles))},
                actor=caller.actor,
            )
    except IntegrityError as exc:
        raise Conflict(f"a user or identity named {body.name!r} exists already") from exc
    return await _view(caller, user), link


def _link_view(caller: Caller, user: Identity, clear: str) -> PasswordLinkView:
    return PasswordLinkView(
        user=user.name,
        url=f"{caller.settings.base_url}/ui/setup?token={clear}",
        expires_at=utcnow() + LINK_TTL,
    )


async def list_users(caller: Caller) -> list[UserView]:
    require_root(caller, USER_ADMIN)
    async with caller.db.session() as session:
        found = await store_users.list_users(session)
    roles = await _roles_of(caller, [u.id for u in found])
    return [UserView.build(u, roles[u.id]) for u in found]


async def set_disabled(caller: Caller, name: str, disabled: bool) -> UserView:
    require_root(caller, USER_ADMIN)
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
            actor=caller.actor,
        )
    return await _view(caller, user)


async def set_password(caller: Caller, name: str, password: str) -> UserView:
    """A user sets their own password; an admin anyone's."""
    if name != caller.actor.name:
        require_root(caller, USER_ADMIN)
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
            actor=caller.actor,
        )
    return await _view(caller, user)


async def password_link(caller: Caller, name: str) -> PasswordLinkView:
    require_root(caller, USER_ADMIN)
    await _load(caller, name)
    async with caller.db.transaction() as session:
        user = await identities.find_identity(session, name)
        assert user is not None
        clear = await store_users.create_password_link(session, user, ttl=LINK_TTL)
    return _link_view(caller, user, clear)
