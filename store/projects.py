"""Project rows."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import ROOT_SPACE_ID, Project, ProjectLock
from store.types import utcnow

__all__ = [
    "create_project",
    "find_project",
    "find_projects",
    "list_projects",
    "lock_of",
    "projects_locked_by",
]


async def create_project(
    session: AsyncSession,
    *,
    name: str,
    created_by: str,
    description: str = "",
    labels: Sequence[str] = (),
    space_id: str = ROOT_SPACE_ID,
) -> Project:
    project = Project(
        name=name,
        space_id=space_id,
        description=description,
        labels=sorted(set(labels)),
        created_by=created_by,
    )
    session.add(project)
    await session.flush()
    return project


async def find_projects(session: AsyncSession, ref: str) -> list[Project]:
    """Projects with this id or name (names are unique within a space; the root first)."""
    rows = await session.scalars(
        select(Project)
        .where(or_(Project.id == ref, Project.name == ref))
        .order_by((Project.id == ref).desc(), (Project.space_id == ROOT_SPACE_ID).desc())
    )
    return list(rows.all())


async def find_project(session: AsyncSession, ref: str) -> Project | None:
    found = await find_projects(session, ref)
    return found[0] if found else None


async def list_projects(
    session: AsyncSession,
    *,
    limit: int = 50,
    after: str | None = None,
    space_ids: Collection[str] | None = None,
) -> list[tuple[Project, ProjectLock | None]]:
    """Projects by id, keyset-paginated with ``after`` = last id seen; only those in
    ``space_ids`` when given."""
    query = (
        select(Project, ProjectLock)
        .outerjoin(ProjectLock, ProjectLock.project_id == Project.id)
        .order_by(Project.id)
        .limit(limit)
    )
    if after:
        query = query.where(Project.id > after)
    if space_ids is not None:
        query = query.where(Project.space_id.in_(list(space_ids)))
    return [(project, lock) for project, lock in (await session.execute(query)).all()]


async def lock_of(session: AsyncSession, project_id: str) -> ProjectLock | None:
    return await session.get(ProjectLock, project_id)


async def projects_locked_by(session: AsyncSession, identity_id: str) -> list[Project]:
    """Projects whose (mirrored, unexpired) lease the identity holds."""
    rows = await session.scalars(
        select(Project)
        .join(ProjectLock, ProjectLock.project_id == Project.id)
        .where(ProjectLock.holder_id == identity_id, ProjectLock.expires_at > utcnow())
        .order_by(Project.name)
    )
    return list(rows.all())
