"""Resource versions: each applied operation's configuration before and after it.

Written by the apply room in the same transaction as the state it commits; read by
rollbacks (``api/services/rollback.py``: which changes touched what, in which order —
metadata the server may read) and by the worker (the sealed configs themselves).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import ResourceVersion

__all__ = ["VERSIONED_ACTIONS", "get_version", "later_versions", "record_version", "versions_of"]

# Actions that change what a resource is configured as (refreshes and no-ops do not).
VERSIONED_ACTIONS = frozenset({"create", "update", "replace", "delete", "import"})


async def record_version(
    session: AsyncSession,
    *,
    project_id: str,
    resource_id: str,
    resource_type: str,
    provider: str,
    provider_version: str,
    change_id: str,
    operation_index: int,
    action: str,
    config_before: dict[str, Any] | None,
    config_after: dict[str, Any] | None,
    depends_on: Sequence[str] = (),
) -> None:
    if action not in VERSIONED_ACTIONS:
        return
    session.add(
        ResourceVersion(
            project_id=project_id,
            resource_id=resource_id,
            resource_type=resource_type,
            provider=provider,
            provider_version=provider_version,
            change_id=change_id,
            operation_index=operation_index,
            action=action,
            config_before=config_before,
            config_after=config_after,
            depends_on=sorted(depends_on),
        )
    )
    await session.flush()


async def get_version(session: AsyncSession, version_id: str) -> ResourceVersion | None:
    return await session.get(ResourceVersion, version_id)


async def versions_of(session: AsyncSession, change_ids: Collection[str]) -> list[ResourceVersion]:
    """What the given changes applied, oldest first (ULIDs sort by time)."""
    rows = await session.scalars(
        select(ResourceVersion)
        .where(ResourceVersion.change_id.in_(list(change_ids)))
        .order_by(ResourceVersion.id)
    )
    return list(rows.all())


async def later_versions(
    session: AsyncSession, project_id: str, resource_ids: Collection[str], after_id: str
) -> list[ResourceVersion]:
    """Versions of these resources applied after version ``after_id``, oldest first."""
    rows = await session.scalars(
        select(ResourceVersion)
        .where(
            ResourceVersion.project_id == project_id,
            ResourceVersion.resource_id.in_(list(resource_ids)),
            ResourceVersion.id > after_id,
        )
        .order_by(ResourceVersion.id)
    )
    return list(rows.all())
