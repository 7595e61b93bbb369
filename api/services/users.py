"""Users: local accounts (argon2 passwords, one-time setup links) and upstream ones."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError

from access.permissions import sign_in_refusal
from api.context import Caller
from api.errors import Conflict, Forbidden, Invalid, NotFound
from api.oauth.login import password_problem
from api.services.access import (
    ROOT_PATH,
    bind_in_root,
    deny,
    require_grantable,
    require_over,
    require_root,
)
from store import access as access_store
from store import audit, identities
from store import users as store_users
from store.models import Identity
from store.types import utcnow

__all__ = [
    "USER_NAME_PATTERN",
    "PasswordChanged",
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


class PasswordChanged(BaseModel):
    user: UserView
    sessions_ended: int = Field(description="Web sessions that were signed out")
    app_sign_ins_revoked: int = Field(
        description="App (OAuth) sign-ins whose tokens were revoked; the apps sign in again"
    )
    api_keys_kept: int = Field(description="Live API keys of the user, which still work")
    message: str


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


async def _managed(caller: Caller, name: str, doing: str) -> Identity:
    """User ``name``, if the caller manages users and holds at least what they hold."""
    require_root(caller, USER_ADMIN)
    user = await _load(caller, name)
    await require_over(caller, user, doing)
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
    await require_grantable(caller, body.roles, ROOT_PATH, to=body.name)
    hashed = await _hash(body.password) if body.password is not None else None
    link: PasswordLinkView | None = None
    try:
        async with caller.db.transaction() as session:
            user = await store_users.create_user(
                session, body.name, email=body.email, password_hash=hashed
            )
            await bind_in_root(session, caller, user, body.roles)
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
    if disabled and name == caller.actor.name:
        raise Invalid("you cannot disable yourself; ask another admin")
    await _managed(caller, name, "disable" if disabled else "enable")
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


async def set_password(
    caller: Caller, name: str, password: str, current_password: str | None = None
) -> PasswordChanged:
    """A user sets their own password (proving the current one); a user admin sets the
    password of someone who holds no more than they do. Either way from a full sign-in,
    never with an API key, and every earlier sign-in of the user ends."""
    own = name == caller.actor.name
    deny(sign_in_refusal(caller.principal, "set passwords"))
    if own:
        user = await _load(caller, name)
        await _check_current(caller, user, current_password)
    else:
        user = await _managed(caller, name, "set the password of")
    hashed = await _hash(password)
    async with caller.db.transaction() as session:
        row = await session.get(Identity, user.id)
        assert row is not None
        signed_out = await store_users.set_password_hash(session, row, hashed)
        keys = await identities.count_live_keys(session, row.id)
        await audit.record(
            session,
            "password_set",
            subject_id=row.id,
            subject_name=row.name,
            actor=caller.actor,
            details={"method": "own" if own else "admin", **signed_out.details()},
        )
    return PasswordChanged(
        user=await _view(caller, row),
        sessions_ended=signed_out.sessions,
        app_sign_ins_revoked=signed_out.app_sign_ins,
        api_keys_kept=keys,
        message=(
            f"password of {user.name} changed; {signed_out.sessions} web session(s) and "
            f"{signed_out.app_sign_ins} app sign-in(s) ended: sign in again with the new "
            f"password. {keys} API key(s) are separate credentials and still work; revoke "
            "any that may be compromised (`intent tokens revoke`, the Access page)"
        ),
    )


async def _check_current(caller: Caller, user: Identity, given: str | None) -> None:
    """Changing your own password needs the current one, so a borrowed session cannot
    lock you out (a user without one yet, e.g. from single sign-on, sets a first one)."""
    if user.password_hash is None:
        return
    if not given:
        raise Invalid("give your current password (current_password) to set a new one")
    ok = await asyncio.to_thread(store_users.verify_password, user, given)
    if ok:
        return
    async with caller.db.transaction() as session:
        await audit.record(
            session,
            "password_set",
            outcome="failed",
            subject_id=user.id,
            subject_name=user.name,
            actor=caller.actor,
            details={"method": "own", "why": "wrong current password"},
        )
    raise Forbidden("the current password is wrong; nothing changed")


async def password_link(caller: Caller, name: str) -> PasswordLinkView:
    """A one-time link that sets ``name``'s password: whoever holds it takes over the
    account, so it follows the rules of setting a password for someone."""
    deny(sign_in_refusal(caller.principal, "make password links"))
    await _managed(caller, name, "make a password link for")
    async with caller.db.transaction() as session:
        user = await identities.find_identity(session, name)
        assert user is not None
        clear = await store_users.create_password_link(session, user, ttl=LINK_TTL)
    return _link_view(caller, user, clear)
