"""One project at a glance (``project-describe``), and the caller's current project.

Reads only what the server may read: the lock mirror, counts, integrations (credentials
masked), governing policies and the provider lock. Nothing here opens a sealed value.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.context import Caller
from api.services import integrations as integration_svc
from api.services import policies as policy_svc
from api.services.projects import (
    LockView,
    ProjectView,
    load_project,
    project_path,
    project_warnings,
)
from store import changes as store_changes
from store import projects as store_projects
from store import provider_locks
from store import resources as store_resources
from store.models import Change, Identity, Operation, Project

__all__ = [
    "CurrentProject",
    "ProjectCounts",
    "ProjectDescription",
    "current_project",
    "describe_project",
]


class ProjectCounts(BaseModel):
    resources: int
    resources_by_status: dict[str, int] = Field(description="active, tainted, missing, …")
    resources_by_type: dict[str, int]
    changes_in_flight: list[str] = Field(description="Unfinished changes (ids)")
    changes: int
    history_entries: int


class ProviderInUse(BaseModel):
    provider: str
    version: str
    hashes: list[str]


class ProjectDescription(BaseModel):
    project: ProjectView
    created_by: str | None
    integrations: list[integration_svc.AttachmentView]
    policies: list[dict[str, str]] = Field(description="Governing policies and how")
    providers: list[ProviderInUse] = Field(description="The project's provider lock")
    counts: ProjectCounts
    last_change_at: datetime | None = None
    ttl_set_by: str | None = Field(default=None, description="Who set or last extended the TTL")
    warnings: list[str] = Field(default_factory=list, description="Tell the user")


class CurrentProject(BaseModel):
    project: ProjectDescription | None
    message: str


async def describe_project(caller: Caller, ref: str) -> ProjectDescription:
    project = await load_project(caller, ref)
    path = await project_path(caller, project)
    policies = await policy_svc.project_policies(caller, project.id)
    integrations = await integration_svc.attachments_of(caller, project)
    async with caller.db.session() as session:
        lock = await store_projects.lock_of(session, project.id)
        rows = await store_resources.list_resources(session, project.id)
        busy = await store_changes.busy_resources(session, project.id)
        locks = await provider_locks.list_locks(session, project.id)
        changes, last = (
            await session.execute(
                select(func.count(), func.max(Change.created_at)).where(
                    Change.project_id == project.id
                )
            )
        ).one()
        entries = await session.scalar(
            select(func.count()).select_from(Operation).where(Operation.project_id == project.id)
        )
        creator = await _name_of(session, project)
    return ProjectDescription(
        project=ProjectView.build(project, LockView.from_mirror(lock), path[-1].name),
        created_by=creator,
        integrations=integrations,
        policies=policies,
        providers=[
            ProviderInUse(provider=r.provider, version=r.version, hashes=list(r.hashes))
            for r in locks
        ],
        counts=ProjectCounts(
            resources=len(rows),
            resources_by_status=dict(Counter(r.status for r in rows)),
            resources_by_type=dict(Counter(r.resource_type for r in rows)),
            changes_in_flight=sorted({c.id for c in busy.values()}),
            changes=int(changes or 0),
            history_entries=int(entries or 0),
        ),
        last_change_at=last,
        ttl_set_by=project.ttl_set_by,
        warnings=await project_warnings(caller, project.id),
    )


async def _name_of(session: AsyncSession, project: Project) -> str | None:
    if project.created_by is None:
        return None
    identity = await session.get(Identity, project.created_by)
    return identity.name if identity is not None else project.created_by


async def current_project(caller: Caller) -> CurrentProject:
    """The project whose lock the caller holds: what tools use when no project is named."""
    async with caller.db.session() as session:
        held = await store_projects.projects_locked_by(session, caller.actor.id)
    if not held:
        return CurrentProject(
            project=None,
            message="you hold no project lock, so tools need a project named; call "
            "project-use NAME to work in one",
        )
    if len(held) > 1:
        names = ", ".join(p.name for p in held)
        return CurrentProject(
            project=None,
            message=f"you hold the locks of several projects ({names}); name the project "
            "in each call, or release the others with project-release",
        )
    described = await describe_project(caller, held[0].id)
    until = described.project.lock.expires_at
    return CurrentProject(
        project=described,
        message=f"your current project is {held[0].name}"
        + (f" (lock until {until.isoformat()})" if until else ""),
    )
