"""How the services ask the permission rules (``access.permissions``) about a caller.

Every service that reads or changes something in a space calls ``require`` (or
``require_in``) first; listings keep only what ``readable`` allows. Refusals become
403 errors in the caller's terms.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from access.credentials import local_file_paths
from access.models import ROOT, SpacePath, SpaceRef, space_path
from access.permissions import ADMIN, effective_actions, is_allowed, refusal
from api.context import Caller
from api.errors import Forbidden, NotFound
from store import access as access_store
from store.models import Space

__all__ = [
    "ROOT_PATH",
    "check_local_files",
    "load_space",
    "path_of",
    "readable",
    "require",
    "require_in",
    "require_root",
]

ROOT_PATH: SpacePath = (SpaceRef(ROOT, ROOT),)


async def path_of(caller: Caller, space_id: str) -> SpacePath:
    async with caller.db.session() as session:
        return await access_store.path_of(session, space_id)


def require(caller: Caller, action: str, path: SpacePath) -> None:
    reason = refusal(caller.principal, action, path)
    if reason is not None:
        raise Forbidden(reason)


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
