"""Per-project provider locks: the version and package hashes a project runs."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import ProviderLock

__all__ = ["delete_lock", "get_lock", "list_locks", "put_lock"]


async def get_lock(session: AsyncSession, project_id: str, provider: str) -> ProviderLock | None:
    return await session.get(ProviderLock, (project_id, provider))


async def list_locks(session: AsyncSession, project_id: str) -> list[ProviderLock]:
    rows = await session.scalars(
        select(ProviderLock)
        .where(ProviderLock.project_id == project_id)
        .order_by(ProviderLock.provider)
    )
    return list(rows.all())


async def put_lock(
    session: AsyncSession,
    *,
    project_id: str,
    provider: str,
    version: str,
    hashes: list[str],
    recorded_by: str,
) -> ProviderLock:
    row = await get_lock(session, project_id, provider)
    if row is None:
        row = ProviderLock(project_id=project_id, provider=provider)
        session.add(row)
    row.version, row.hashes, row.recorded_by = version, sorted(set(hashes)), recorded_by
    await session.flush()
    return row


async def delete_lock(session: AsyncSession, project_id: str, provider: str) -> bool:
    row = await get_lock(session, project_id, provider)
    if row is None:
        return False
    await session.delete(row)
    return True
