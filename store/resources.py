"""Managed resources and their dependency edges."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import Resource, ResourceDependency

__all__ = [
    "add_dependencies",
    "count_resources",
    "declared_dependencies",
    "dependencies_of",
    "dependents_of",
    "edges",
    "get_resource",
    "get_resources",
    "list_resources",
    "providers_in_use",
    "remove_dependencies",
    "replace_reference_edges",
    "resource_ids",
]


async def get_resource(session: AsyncSession, project_id: str, resource_id: str) -> Resource | None:
    return await session.scalar(
        select(Resource).where(
            Resource.project_id == project_id, Resource.resource_id == resource_id
        )
    )


async def get_resources(
    session: AsyncSession, project_id: str, resource_ids: Iterable[str]
) -> list[Resource]:
    """The named resources that exist (a change reads only what it touches)."""
    wanted = sorted(set(resource_ids))
    if not wanted:
        return []
    return list(
        (
            await session.scalars(
                select(Resource).where(
                    Resource.project_id == project_id, Resource.resource_id.in_(wanted)
                )
            )
        ).all()
    )


async def resource_ids(session: AsyncSession, project_id: str) -> set[str]:
    """Every resource id of the project, without loading configs or states."""
    rows = await session.scalars(
        select(Resource.resource_id).where(Resource.project_id == project_id)
    )
    return set(rows.all())


async def providers_in_use(session: AsyncSession) -> set[tuple[str, str]]:
    """(provider, version) pairs that managed resources pin, across every project."""
    rows = await session.execute(select(Resource.provider, Resource.provider_version).distinct())
    return {(provider, version) for provider, version in rows.all()}


async def count_resources(session: AsyncSession, project_id: str) -> int:
    """Resources the project manages (any status but gone)."""
    query = select(func.count()).where(Resource.project_id == project_id)
    return int(await session.scalar(query) or 0)


async def list_resources(
    session: AsyncSession,
    project_id: str,
    *,
    limit: int | None = None,
    after: str | None = None,
    resource_type: str | None = None,
) -> list[Resource]:
    query = select(Resource).where(Resource.project_id == project_id).order_by(Resource.resource_id)
    if resource_type:
        query = query.where(Resource.resource_type == resource_type)
    if after:
        query = query.where(Resource.resource_id > after)
    if limit:
        query = query.limit(limit)
    return list((await session.scalars(query)).all())


async def edges(session: AsyncSession, project_id: str) -> list[ResourceDependency]:
    return list(
        (
            await session.scalars(
                select(ResourceDependency).where(ResourceDependency.project_id == project_id)
            )
        ).all()
    )


async def dependencies_of(session: AsyncSession, project_id: str, resource_id: str) -> list[str]:
    return sorted(
        (
            await session.scalars(
                select(ResourceDependency.depends_on).where(
                    ResourceDependency.project_id == project_id,
                    ResourceDependency.resource_id == resource_id,
                )
            )
        ).all()
    )


async def declared_dependencies(
    session: AsyncSession, project_id: str, resource_id: str
) -> list[str]:
    """What a resource was declared (dependencies-add, depends_on) to depend on."""
    return sorted(
        (
            await session.scalars(
                select(ResourceDependency.depends_on).where(
                    ResourceDependency.project_id == project_id,
                    ResourceDependency.resource_id == resource_id,
                    ResourceDependency.source == "explicit",
                )
            )
        ).all()
    )


async def dependents_of(session: AsyncSession, project_id: str, resource_id: str) -> list[str]:
    return sorted(
        (
            await session.scalars(
                select(ResourceDependency.resource_id).where(
                    ResourceDependency.project_id == project_id,
                    ResourceDependency.depends_on == resource_id,
                )
            )
        ).all()
    )


async def add_dependencies(
    session: AsyncSession,
    project_id: str,
    resource_id: str,
    depends_on: Iterable[str],
    *,
    source: str,
) -> None:
    rows = {
        edge.depends_on: edge
        for edge in (
            await session.scalars(
                select(ResourceDependency).where(
                    ResourceDependency.project_id == project_id,
                    ResourceDependency.resource_id == resource_id,
                )
            )
        ).all()
    }
    for target, edge in rows.items():
        # A declared dependency outlives the reference it may duplicate.
        if source == "explicit" and target in depends_on and edge.source != "explicit":
            edge.source = "explicit"
    for target in sorted(set(depends_on) - set(rows) - {resource_id}):
        session.add(
            ResourceDependency(
                project_id=project_id, resource_id=resource_id, depends_on=target, source=source
            )
        )
    await session.flush()


async def remove_dependencies(
    session: AsyncSession,
    project_id: str,
    resource_id: str,
    depends_on: Iterable[str] | None = None,
    *,
    source: str | None = None,
) -> int:
    statement = delete(ResourceDependency).where(
        ResourceDependency.project_id == project_id,
        ResourceDependency.resource_id == resource_id,
    )
    if depends_on is not None:
        statement = statement.where(ResourceDependency.depends_on.in_(list(depends_on)))
    if source is not None:
        statement = statement.where(ResourceDependency.source == source)
    result = await session.execute(statement)
    return int(getattr(result, "rowcount", 0) or 0)


async def replace_reference_edges(
    session: AsyncSession, project_id: str, resource_id: str, targets: Iterable[str]
) -> None:
    """Reference edges follow the config: recomputed on every applied change."""
    await remove_dependencies(session, project_id, resource_id, source="reference")
    await add_dependencies(session, project_id, resource_id, targets, source="reference")
