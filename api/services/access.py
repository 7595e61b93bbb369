"""How the services ask the permission rules (``access.permissions``) about a caller.

Every service that reads or changes something in a space calls ``require`` (or
``require_in``) first; listings keep only what ``readable`` allows. Refusals become
403 errors in the caller's terms.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from access.credentials import local_file_paths
from access.models import ROOT, SpacePath, SpaceRef, space_path
from access.permissions import (
    ADMIN,
    effective_actions,
    grant_refusal,
    is_allowed,
    outranked_refusal,
    refusal,
)
from api.context import Caller
from api.errors import Forbidden, NotFound
from store import access as access_store
from store import audit
from store.models import Identity, Space

__all__ = [
    "ROOT_PATH",
    "bind_in_root",
    "check_local_files",
    "deny",
    "load_space",
    "path_of",
    "readable",
    "require",
    "require_grantable",
    "require_in",
    "require_over",
    "require_root",
]

ROOT_PATH: SpacePath = (SpaceRef(ROOT, ROOT),)


async def path_of(caller: Caller, space_id: str) -> SpacePath:
    async with caller.db.session() as session:
        return await access_store.path_of(session, space_id)


def deny(reason: str | None) -> None:
    """Turn a refusal of the permission rules (words for the user) into a 403."""
    if reason is not None:
        raise Forbidden(reason)


def require(caller: Caller, action: str, path: SpacePath) -> None:
    deny(refusal(caller.principal, action, path))


async def require_in(caller: Caller, action: str, space_id: str) -> SpacePath:
    path = await path_of(caller, space_id)
    require(caller, action, path)
    return path


def require_root(caller: Caller, action: str) -> None:
    """For what only exists once (users, custom roles, the audit trail)."""
    require(caller, action, ROOT_PATH)


async def readable(caller: Caller, action: str) -> set[str]:
    """The ids of the spaces where the caller may ``action`` (for filtering listings)."""
    async with caller.db.session() as session:
        spaces = await access_store.space_map(session)
    return {
        space_id
        for space_id in spaces
        if action in effective_actions(caller.principal, space_path(space_id, spaces))
    }


async def load_space(caller: Caller, ref: str) -> Space:
    async with caller.db.session() as session:
        space = await access_store.find_space(session, ref)
    if space is None:
        raise NotFound(f"there is no space {ref!r}; list spaces with `intent spaces list`")
    return space


async def require_grantable(
    caller: Caller, roles: Iterable[str], path: SpacePath, *, to: str
) -> dict[str, frozenset[str]]:
    """Check that the caller may bind each of ``roles`` to ``to`` in ``path`` (they
    exist, and grant nothing the caller does not hold there); their actions by name."""
    wanted = sorted(set(roles))
    async with caller.db.session() as session:
        known = await access_store.role_actions(session, wanted)
    for role in wanted:
        if role not in known:
            raise NotFound(f"there is no role {role!r}; see the list of roles")
        deny(grant_refusal(caller.principal, known[role], path, what=f"give {to} role {role}"))
    return known


async def bind_in_root(
    session: AsyncSession, caller: Caller, identity: Identity, roles: Iterable[str]
) -> None:
    """Bind ``roles`` (checked with ``require_grantable`` first) to a new user or machine
    identity in root, in the caller's transaction; each binding goes to the audit trail."""
    for role in sorted(set(roles)):
        await access_store.bind(
            session, role=role, subject_kind="user", subject=identity.id, created_by=caller.actor.id
        )
        await audit.record(
            session,
            "role_bound",
            subject_id=identity.id,
            subject_name=identity.name,
            actor=caller.actor,
            details={"role": role, "space": ROOT, "kind": "user"},
        )


async def require_over(caller: Caller, subject: Identity, doing: str) -> None:
    """Refuse unless the caller holds at least what ``subject`` holds, everywhere
    (``doing`` completes "may not …", e.g. "set the password of")."""
    async with caller.db.session() as session:
        grants = await access_store.grants_for(session, subject.id, subject.groups or ())
        spaces = await access_store.space_map(session)
    holdings = [(grant, space_path(grant.space, spaces)) for grant in grants]
    deny(outranked_refusal(caller.principal, subject.name, holdings, doing=doing))


def check_local_files(
    caller: Caller, path: SpacePath, configs: Iterable[tuple[str, Mapping[str, Any] | None]]
) -> None:
    """Resource configs may name files on the worker host only for a space admin (the
    credential-source rule): ``aws_s3_object.source = "/var/lib/..."`` would upload the
    worker's own files to wherever the caller likes."""
    if is_allowed(caller.principal, ADMIN, path):
        return
    for name, config in configs:
        paths = local_file_paths(config or {})
        if paths:
            raise Forbidden(
                f"{name}: {', '.join(paths)} name a file on the worker host; only a space "
                "admin (intent-space:admin) may point a provider at the worker's files (the "
                "credential-source rule, docs/security.md). Pass the content instead (for "
                "example content or content_base64)"
            )
