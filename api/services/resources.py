"""State (what intent manages) and dependencies, read from the database.

Everything shown here is the worker's redacted view of state and config: the server
never loads a provider schema, and sensitive values never leave the store in clear.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from api.context import Caller
from api.errors import Conflict, Invalid, NotFound
from api.services.changes import current_project, require_lease
from store import changes as store_changes
from store import history
from store import resources as store_resources
from store.models import Project, Resource

__all__ = [
    "DependencyView",
    "ResourceDetail",
    "ResourceList",
    "ResourceSummary",
    "add_dependencies",
    "eject",
    "get_dependencies",
    "get_resource",
    "list_resources",
    "remove_dependencies",
]

STATE_READ = "intent-state:read"

# Attributes worth showing in a listing row, when the type has them.
_HEADLINE = ("id", "arn", "bucket", "name", "region", "tags")


class ResourceSummary(BaseModel):
    resource_id: str
    resource_type: str
    provider: str
    provider_version: str
    status: str
    updated_at: datetime
    headline: dict[str, Any] = Field(default_factory=dict)
    drift: dict[str, Any] | None = Field(
        default=None,
        description="What the last refresh or drift check found changed outside intent: "
        "{detected_at, deleted, changes: [{attribute, before, after}]}; null: in sync",
    )


class ResourceList(BaseModel):
    project: str
    resources: list[ResourceSummary]
    next_cursor: str | None = None


class ResourceDetail(ResourceSummary):
    config: dict[str, Any] | None
    state: dict[str, Any] | None
    depends_on: list[str]
    dependents: list[str]
    last_change_id: str | None


class DependencyView(BaseModel):
    resource_id: str
    depends_on: list[str]
    dependents: list[str]


def _summary(row: Resource) -> ResourceSummary:
    view = row.state_view or {}
    return ResourceSummary(
        resource_id=row.resource_id,
        resource_type=row.resource_type,
        provider=row.provider,
        provider_version=row.provider_version,
        status=row.status,
        updated_at=row.updated_at,
        headline={k: view[k] for k in _HEADLINE if view.get(k) not in (None, "", {}, [])},
        drift=row.drift,
    )


async def _row(caller: Caller, project: Project, resource_id: str) -> Resource:
    async with caller.db.session() as session:
        row = await store_resources.get_resource(session, project.id, resource_id)
    if row is None:
        raise NotFound(
            f"{resource_id} is not in project {project.name}; list resources with state-list"
        )
    return row


async def list_resources(
    caller: Caller,
    project_ref: str | None,
    *,
    resource_type: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> ResourceList:
    project = await current_project(caller, project_ref, STATE_READ)
    limit = max(1, min(limit, 200))
    async with caller.db.session() as session:
        rows = await store_resources.list_resources(
            session, project.id, limit=limit + 1, after=cursor, resource_type=resource_type
        )
    page = rows[:limit]
    return ResourceList(
        project=project.name,
        resources=[_summary(r) for r in page],
        next_cursor=page[-1].resource_id if len(rows) > limit else None,
    )


async def get_resource(caller: Caller, project_ref: str | None, resource_id: str) -> ResourceDetail:
    project = await current_project(caller, project_ref, STATE_READ)
    row = await _row(caller, project, resource_id)
    async with caller.db.session() as session:
        deps = await store_resources.dependencies_of(session, project.id, resource_id)
        users = await store_resources.dependents_of(session, project.id, resource_id)
    return ResourceDetail(
        **_summary(row).model_dump(),
        config=row.config_view,
        state=row.state_view,
        depends_on=deps,
        dependents=users,
        last_change_id=row.last_change_id,
    )


async def eject(caller: Caller, project_ref: str | None, resource_id: str) -> ResourceSummary:
    """Stop managing a resource without touching it in the cloud (like `state rm`)."""
    project = await current_project(caller, project_ref, "intent-state:eject")
    await require_lease(caller, project)
    row = await _row(caller, project, resource_id)
    async with caller.db.transaction() as session:
        await _not_in_flight(session, project, [resource_id])
        users = await store_resources.dependents_of(session, project.id, resource_id)
        if users:
            raise Conflict(
                f"{', '.join(users)} depend(s) on {resource_id}; eject them first or remove "
                "the dependencies"
            )
        current = await store_resources.get_resource(session, project.id, resource_id)
        if current is not None:
            await session.delete(current)
        await store_resources.remove_dependencies(session, project.id, resource_id)
        await history.record(
            session,
            subject="resource",
            operation="eject",
            status="succeeded",
            actor=caller.actor,
            project_id=project.id,
            resource_id=resource_id,
            resource_type=row.resource_type,
            before=row.state_view,
            reasons=["removed from intent's state; the cloud resource was not touched"],
        )
    return _summary(row)


async def get_dependencies(
    caller: Caller, project_ref: str | None, resource_id: str
) -> DependencyView:
    project = await current_project(caller, project_ref, STATE_READ)
    await _row(caller, project, resource_id)
    async with caller.db.session() as session:
        return DependencyView(
            resource_id=resource_id,
            depends_on=await store_resources.dependencies_of(session, project.id, resource_id),
            dependents=await store_resources.dependents_of(session, project.id, resource_id),
        )


async def _change_dependencies(
    caller: Caller, project_ref: str | None, resource_id: str, targets: list[str], add: bool
) -> DependencyView:
    project = await current_project(caller, project_ref, "intent-resource:update")
    await require_lease(caller, project)
    await _row(caller, project, resource_id)
    if resource_id in targets:
        raise Invalid(f"{resource_id} cannot depend on itself")
    async with caller.db.transaction() as session:
        await _not_in_flight(session, project, [resource_id, *targets])
        for target in targets:
            if await store_resources.get_resource(session, project.id, target) is None:
                raise NotFound(f"{target} is not in project {project.name}")
        if add:
            reverse = await _reachable(session, project.id, targets, resource_id)
            if reverse:
                raise Invalid(
                    f"{reverse} already depends on {resource_id}; adding this edge would make "
                    "a cycle"
                )
            await store_resources.add_dependencies(
                session, project.id, resource_id, targets, source="explicit"
            )
        else:
            await store_resources.remove_dependencies(session, project.id, resource_id, targets)
        await history.record(
            session,
            subject="dependency",
            operation="add" if add else "remove",
            status="succeeded",
            actor=caller.actor,
            project_id=project.id,
            resource_id=resource_id,
            details={"depends_on": targets},
        )
    return await get_dependencies(caller, project.name, resource_id)


async def _not_in_flight(session: Any, project: Project, resource_ids: list[str]) -> None:
    """State edits wait for changes in flight on the same resources (same rule as changes)."""
    await store_changes.serialize_project(session, project.id)
    busy = await store_changes.busy_resources(session, project.id)
    for resource_id in resource_ids:
        change = busy.get(resource_id)
        if change is not None:
            raise Conflict(
                f"{resource_id} is part of change {change.id}, which is {change.status}; let "
                "it finish, or confirm/reject/retry/abandon it first"
            )


async def _reachable(session: Any, project_id: str, starts: list[str], goal: str) -> str | None:
    """Which of ``starts`` (transitively) depends on ``goal`` already, if any."""
    for start in starts:
        seen: set[str] = set()
        todo = [start]
        while todo:
            node = todo.pop()
            if node == goal:
                return start
            if node in seen:
                continue
            seen.add(node)
            todo += await store_resources.dependencies_of(session, project_id, node)
    return None


async def add_dependencies(
    caller: Caller, project_ref: str | None, resource_id: str, targets: list[str]
) -> DependencyView:
    return await _change_dependencies(caller, project_ref, resource_id, targets, add=True)


async def remove_dependencies(
    caller: Caller, project_ref: str | None, resource_id: str, targets: list[str]
) -> DependencyView:
    return await _change_dependencies(caller, project_ref, resource_id, targets, add=False)
