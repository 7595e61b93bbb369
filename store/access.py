"""Spaces, custom roles and role bindings, and the grants they add up to for a principal."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import and_, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from access.models import Grant, SpacePath, space_path
from access.roles import BUILTIN_ROLES
from store.models import ROOT_SPACE_ID, Role, RoleBinding, Space

__all__ = [
    "bind",
    "find_space",
    "grants_for",
    "list_bindings",
    "list_roles",
    "path_of",
    "role_actions",
    "space_map",
    "unbind",
]


async def space_map(session: AsyncSession) -> dict[str, tuple[str, str | None]]:
    """Every space as ``id -> (name, parent id)`` (the tree is small; read it whole)."""
    rows = await session.execute(select(Space.id, Space.name, Space.parent_id))
    return {row.id: (row.name, row.parent_id) for row in rows}


async def path_of(session: AsyncSession, space_id: str) -> SpacePath:
    return space_path(space_id, await space_map(session))


async def find_space(session: AsyncSession, ref: str) -> Space | None:
    """A space by id, else by name (ids first: a name never shadows another space's id)."""
    found = await session.get(Space, ref)
    if found is not None:
        return found
    return await session.scalar(select(Space).where(Space.name == ref))


async def list_roles(session: AsyncSession) -> list[Role]:
    return list((await session.scalars(select(Role).order_by(Role.name))).all())


async def role_actions(session: AsyncSession, names: Iterable[str]) -> dict[str, frozenset[str]]:
    """The actions of each named role (built-in or custom); unknown names are left out."""
    wanted = set(names)
    found = {n: BUILTIN_ROLES[n].actions for n in wanted if n in BUILTIN_ROLES}
    custom = wanted - set(found)
    if custom:
        for role in await session.scalars(select(Role).where(Role.name.in_(custom))):
            found[role.name] = frozenset(role.actions)
    return found


async def grants_for(
    session: AsyncSession, identity_id: str, groups: Iterable[str], key_id: str | None = None
) -> tuple[Grant, ...]:
    """The grants of a user (directly and through its groups) and, for a request made
    with an API key, of that key."""
    subjects = [and_(RoleBinding.subject_kind == "user", RoleBinding.subject == identity_id)]
    group_names = list(groups)
    if group_names:
        subjects.append(
            and_(RoleBinding.subject_kind == "group", RoleBinding.subject.in_(group_names))
        )
    if key_id is not None:
        subjects.append(and_(RoleBinding.subject_kind == "key", RoleBinding.subject == key_id))
    rows = list((await session.scalars(select(RoleBinding).where(or_(*subjects)))).all())
    if not rows:
        return ()
    actions = await role_actions(session, {row.role for row in rows})
    return tuple(
        Grant(
            space=row.space_id,
            role=row.role,
            actions=actions[row.role],
            via="group:" + row.subject if row.subject_kind == "group" else row.subject_kind,
        )
        for row in rows
        if row.role in actions
    )


async def list_bindings(
    session: AsyncSession,
    *,
    space_ids: Iterable[str] | None = None,
    subject_kind: str | None = None,
    subject: str | None = None,
) -> list[RoleBinding]:
    query = select(RoleBinding)
    if space_ids is not None:
        query = query.where(RoleBinding.space_id.in_(list(space_ids)))
    if subject_kind is not None:
        query = query.where(RoleBinding.subject_kind == subject_kind)
    if subject is not None:
        query = query.where(RoleBinding.subject == subject)
    rows = await session.scalars(query.order_by(RoleBinding.space_id, RoleBinding.role))
    return list(rows.all())


async def bind(
    session: AsyncSession,
    *,
    role: str,
    subject_kind: str,
    subject: str,
    space_id: str = ROOT_SPACE_ID,
    created_by: str | None = None,
) -> RoleBinding:
    """Bind ``role`` (idempotent: an existing identical binding is returned)."""
    found = await session.scalar(
        select(RoleBinding).where(
            RoleBinding.role == role,
            RoleBinding.space_id == space_id,
            RoleBinding.subject_kind == subject_kind,
            RoleBinding.subject == subject,
        )
    )
    if found is not None:
        return found
    row = RoleBinding(
        role=role,
        space_id=space_id,
        subject_kind=subject_kind,
        subject=subject,
        created_by=created_by,
    )
    session.add(row)
    await session.flush()
    return row


async def unbind(session: AsyncSession, binding_id: str) -> RoleBinding | None:
    row = await session.get(RoleBinding, binding_id)
    if row is not None:
        await session.execute(delete(RoleBinding).where(RoleBinding.id == binding_id))
    return row
