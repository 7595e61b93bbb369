"""Spaces (the tree under ``root``), custom roles and role bindings.

Space admins (``intent-space:admin``) create child spaces and bind roles in their space
and below; custom roles are defined once, for the whole server (``intent-role:manage``
in root). Every binding change goes to the audit trail.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from access.actions import ACTIONS
from access.models import space_path
from access.permissions import ADMIN, effective_actions, grant_refusal
from access.roles import BUILTIN_ROLES, ROLE_NAME_PATTERN, unknown_actions
from api.context import Caller
from api.errors import Conflict, Invalid, NotFound
from api.services.access import (
    ROOT_PATH,
    deny,
    load_space,
    require_grantable,
    require_in,
    require_root,
)
from store import access as access_store
from store import audit, identities
from store.models import Identity, Policy, Project, Role, RoleBinding, Space, Token
from store.types import looks_like_id

__all__ = [
    "ActionView",
    "BindingCreate",
    "BindingView",
    "RoleCreate",
    "RoleUpsert",
    "RoleView",
    "SpaceCreate",
    "SpaceView",
    "bind",
    "create_role",
    "create_space",
    "delete_role",
    "delete_space",
    "list_actions",
    "list_bindings",
    "list_roles",
    "list_spaces",
    "unbind",
    "update_role",
]

SPACE_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"
ROLES = "intent-role:manage"
SubjectKind = Literal["user", "group", "key"]


class SpaceCreate(BaseModel):
    name: str = Field(pattern=SPACE_NAME_PATTERN, examples=["team-web"])
    parent: str = Field(default="root", description="Parent space (name or id)")
    description: str = Field(default="", max_length=2000)


class SpaceView(BaseModel):
    id: str
    name: str
    parent: str | None = Field(description="Parent space name")
    path: list[str] = Field(description="Names from root down to this space")
    description: str
    actions: list[str] = Field(description="What you may do here")


class ActionView(BaseModel):
    name: str
    does: str
    writes: bool


class RoleUpsert(BaseModel):
    description: str = Field(default="", max_length=2000)
    actions: list[str] = Field(min_length=1, description="intent-<noun>:<verb> actions")


class RoleCreate(RoleUpsert):
    name: str = Field(pattern=ROLE_NAME_PATTERN, examples=["deployer"])


class RoleView(BaseModel):
    name: str
    description: str
    actions: list[str]
    builtin: bool


class BindingCreate(BaseModel):
    role: str
    subject_kind: SubjectKind = Field(default="user", description="user, group or key")
    subject: str = Field(
        description="A user name, a group name (from the identity provider) or an API key id/prefix"
    )


class BindingView(BaseModel):
    id: str
    role: str
    space: str
    subject_kind: str
    subject: str
    created_at: datetime


# -- spaces -------------------------------------------------------------------------------


async def list_spaces(caller: Caller) -> list[SpaceView]:
    """The spaces where the caller may do anything, each with its path and their actions."""
    async with caller.db.session() as session:
        spaces = await access_store.space_map(session)
        rows = {s.id: s for s in (await session.scalars(select(Space))).all()}
    out = []
    for space_id in sorted(spaces, key=lambda i: [r.name for r in space_path(i, spaces)]):
        path = space_path(space_id, spaces)
        actions = effective_actions(caller.principal, path)
        if not actions:
            continue
        parent = spaces[space_id][1]
        out.append(
            SpaceView(
                id=space_id,
                name=spaces[space_id][0],
                parent=spaces[parent][0] if parent else None,
                path=[r.name for r in path],
                description=rows[space_id].description,
                actions=sorted(actions),
            )
        )
    return out


async def create_space(caller: Caller, body: SpaceCreate) -> SpaceView:
    if looks_like_id(body.name):
        # Spaces are named by id or name; such a name could pass for another space.
        raise Invalid(
            f"{body.name!r} looks like a space id (26 letters and digits); pick a name "
            "that does not"
        )
    parent = await load_space(caller, body.parent)
    await require_in(caller, ADMIN, parent.id)
    try:
        async with caller.db.transaction() as session:
            space = Space(name=body.name, parent_id=parent.id, description=body.description)
            session.add(space)
            await session.flush()
            await audit.record(
                session,
                "space_created",
                actor=caller.actor,
                details={"space": space.name, "parent": parent.name},
            )
    except IntegrityError as exc:
        raise Conflict(f"a space named {body.name!r} exists already; names are unique") from exc
    views = {v.id: v for v in await list_spaces(caller)}
    return views[space.id]


async def delete_space(caller: Caller, ref: str) -> None:
    """Delete an empty space (no child spaces, projects or policies)."""
    space = await load_space(caller, ref)
    if space.parent_id is None:
        raise Invalid("the root space cannot be deleted")
    await require_in(caller, ADMIN, space.parent_id)
    async with caller.db.transaction() as session:
        holders = (
            (Space.parent_id, "child spaces"),
            (Project.space_id, "projects"),
            (Policy.space_id, "policies"),
            (Token.space_id, "API keys limited to it"),
        )
        for column, what in holders:
            held = await session.scalar(select(func.count()).where(column == space.id))
            if held:
                raise Conflict(
                    f"space {space.name} still has {held} {what}; move, delete or revoke them first"
                )
        await audit.record(
            session,
            "space_deleted",
            actor=caller.actor,
            details={"space": space.name},
        )
        await session.delete(await session.get(Space, space.id))


# -- roles --------------------------------------------------------------------------------


def list_actions() -> list[ActionView]:
    return [ActionView(name=a.name, does=a.does, writes=a.writes) for a in ACTIONS.values()]


async def list_roles(caller: Caller) -> list[RoleView]:
    builtin = [
        RoleView(name=r.name, description=r.description, actions=sorted(r.actions), builtin=True)
        for r in BUILTIN_ROLES.values()
    ]
    async with caller.db.session() as session:
        custom = await access_store.list_roles(session)
    return builtin + [
        RoleView(name=r.name, description=r.description, actions=sorted(r.actions), builtin=False)
        for r in custom
    ]


def _valid_actions(actions: list[str]) -> list[str]:
    unknown = unknown_actions(actions)
    if unknown:
        raise Invalid(
            f"unknown action(s) {', '.join(unknown)}; see the list of actions (GET "
            "/api/v1/actions, `intent roles actions`)"
        )
    return sorted(set(actions))


async def _role_event(caller: Caller, event: str, name: str, actions: list[str]) -> None:
    async with caller.db.transaction() as session:
        await audit.record(
            session,
            event,
            actor=caller.actor,
            details={"role": name, "actions": actions},
        )


async def create_role(caller: Caller, body: RoleCreate) -> RoleView:
    require_root(caller, ROLES)
    if body.name in BUILTIN_ROLES:
        raise Conflict(f"{body.name} is a built-in role; pick another name")
    actions = _valid_actions(body.actions)
    try:
        async with caller.db.transaction() as session:
            session.add(
                Role(
                    name=body.name,
                    description=body.description,
                    actions=actions,
                    created_by=caller.actor.id,
                )
            )
    except IntegrityError as exc:
        raise Conflict(f"a role named {body.name} exists already; update it instead") from exc
    await _role_event(caller, "role_created", body.name, actions)
    return RoleView(name=body.name, description=body.description, actions=actions, builtin=False)


async def _custom(caller: Caller, name: str) -> Role:
    if name in BUILTIN_ROLES:
        raise Invalid(f"{name} is a built-in role and cannot change; create a custom role")
    async with caller.db.session() as session:
        role = await session.get(Role, name)
    if role is None:
        raise NotFound(f"there is no role {name!r}; see the list of roles")
    return role


async def update_role(caller: Caller, name: str, body: RoleUpsert) -> RoleView:
    """Change a custom role; every binding of it changes with it."""
    require_root(caller, ROLES)
    current = await _custom(caller, name)
    actions = _valid_actions(body.actions)
    # Every binding of the role widens with it, in every space: what is added must be
    # held in root, where it applies everywhere.
    added = frozenset(actions) - frozenset(current.actions)
    deny(grant_refusal(caller.principal, added, ROOT_PATH, what=f"add actions to role {name}"))
    async with caller.db.transaction() as session:
        role = await session.get(Role, name)
        assert role is not None
        role.description = body.description
        role.actions = actions
    await _role_event(caller, "role_updated", name, actions)
    return RoleView(name=name, description=body.description, actions=actions, builtin=False)


async def delete_role(caller: Caller, name: str) -> None:
    require_root(caller, ROLES)
    role = await _custom(caller, name)
    async with caller.db.transaction() as session:
        used = await session.scalar(select(func.count()).where(RoleBinding.role == name))
        if used:
            raise Conflict(f"role {name} is bound {used} time(s); remove those bindings first")
        await session.delete(await session.get(Role, name))
    await _role_event(caller, "role_deleted", name, list(role.actions))


# -- bindings -----------------------------------------------------------------------------


async def list_bindings(caller: Caller, space_ref: str) -> list[BindingView]:
    """The bindings in a space (its admins see them)."""
    space = await load_space(caller, space_ref)
    await require_in(caller, ADMIN, space.id)
    async with caller.db.session() as session:
        rows = await access_store.list_bindings(session, space_ids=[space.id])
    return [await _binding_view(caller, row, space.name) for row in rows]


async def _binding_view(caller: Caller, row: RoleBinding, space: str) -> BindingView:
    subject = row.subject
    if row.subject_kind == "user":
        async with caller.db.session() as session:
            identity = await session.get(Identity, row.subject)
        subject = identity.name if identity else row.subject
    return BindingView(
        id=row.id,
        role=row.role,
        space=space,
        subject_kind=row.subject_kind,
        subject=subject,
        created_at=row.created_at,
    )


async def _subject_id(caller: Caller, kind: str, subject: str) -> str:
    async with caller.db.session() as session:
        if kind == "user":
            identity = await identities.find_identity(session, subject)
            if identity is None:
                raise NotFound(f"there is no user {subject!r}; see `intent users list`")
            return identity.id
        if kind == "key":
            keys = list(
                (
                    await session.scalars(
                        select(Token).where((Token.id == subject) | (Token.prefix == subject))
                    )
                ).all()
            )
            if len(keys) != 1:
                raise NotFound(f"no single API key matches {subject!r}; see the key list")
            return keys[0].id
    return subject  # a group: whatever the identity provider calls it


async def bind(caller: Caller, space_ref: str, body: BindingCreate) -> BindingView:
    space = await load_space(caller, space_ref)
    path = await require_in(caller, ADMIN, space.id)
    to = body.subject if body.subject_kind == "user" else f"{body.subject_kind} {body.subject}"
    await require_grantable(caller, [body.role], path, to=to)
    subject = await _subject_id(caller, body.subject_kind, body.subject)
    async with caller.db.transaction() as session:
        row = await access_store.bind(
            session,
            role=body.role,
            subject_kind=body.subject_kind,
            subject=subject,
            space_id=space.id,
            created_by=caller.actor.id,
        )
        await audit.record(
            session,
            "role_bound",
            subject_id=subject if body.subject_kind == "user" else None,
            subject_name=body.subject,
            actor=caller.actor,
            details={"role": body.role, "space": space.name, "kind": body.subject_kind},
        )
    return await _binding_view(caller, row, space.name)


async def unbind(caller: Caller, space_ref: str, binding_id: str) -> None:
    space = await load_space(caller, space_ref)
    await require_in(caller, ADMIN, space.id)
    async with caller.db.transaction() as session:
        row = await session.get(RoleBinding, binding_id)
        if row is None or row.space_id != space.id:
            raise NotFound(f"space {space.name} has no binding {binding_id}")
        await access_store.unbind(session, binding_id)
        await audit.record(
            session,
            "role_unbound",
            subject_id=row.subject if row.subject_kind == "user" else None,
            subject_name=row.subject,
            actor=caller.actor,
            details={"role": row.role, "space": space.name, "kind": row.subject_kind},
        )
