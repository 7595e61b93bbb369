"""Projects: create, list, show, use (lock) and release."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError

from api.context import Caller
from api.errors import Conflict, NotFound
from api.services import drift, locks, ttl
from settings import Settings
from store import history
from store import projects as store_projects
from store.environments import sandbox_integration
from store.models import ROOT_SPACE_ID, Project, ProjectLock
from store.types import utcnow
from workflows.lock import Lease

__all__ = [
    "LockView",
    "ProjectCreate",
    "ProjectList",
    "ProjectView",
    "UseResult",
    "create_project",
    "expiry_notice",
    "get_project",
    "list_projects",
    "load_project",
    "project_warnings",
    "refuse_archived",
    "release_project",
    "use_project",
]

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"


class ProjectCreate(BaseModel):
    name: str = Field(
        pattern=NAME_PATTERN,
        description="Letters, digits, '.', '_' or '-', starting with a letter or digit.",
        examples=["my-project"],
    )
    description: str = Field(default="", max_length=2000)
    labels: list[str] = Field(default_factory=list, max_length=50)
    ttl: str | None = Field(
        default=None,
        description="Delete every resource and archive the project after this: a duration "
        "(2h, 7d, 1d12h) or a timestamp (2026-12-24T18:00:00Z)",
    )


class LockView(BaseModel):
    locked: bool
    holder: str | None = None
    holder_id: str | None = None
    acquired_at: datetime | None = None
    expires_at: datetime | None = None

    @classmethod
    def from_mirror(cls, row: ProjectLock | None) -> LockView:
        if row is None or row.holder_id is None:
            return cls(locked=False)
        if row.expires_at is not None and row.expires_at <= utcnow():
            # The workflow frees it at the same moment; don't show a stale holder.
            return cls(locked=False)
        return cls(
            locked=True,
            holder=row.holder_name,
            holder_id=row.holder_id,
            acquired_at=row.acquired_at,
            expires_at=row.expires_at,
        )

    @classmethod
    def from_lease(cls, lease: Lease) -> LockView:
        if not lease.held or lease.holder is None:
            return cls(locked=False)
        return cls(
            locked=True,
            holder=lease.holder.name,
            holder_id=lease.holder.id,
            acquired_at=lease.acquired_at,
            expires_at=lease.expires_at,
        )


class ProjectView(BaseModel):
    id: str
    name: str
    space: str
    description: str
    labels: list[str]
    created_at: datetime
    lock: LockView
    expires_at: datetime | None = Field(
        default=None, description="TTL: then its resources are deleted and it is archived"
    )
    archived_at: datetime | None = None
    drift_interval_seconds: float | None = None

    @classmethod
    def build(cls, project: Project, lock: LockView) -> ProjectView:
        return cls(
            id=project.id,
            name=project.name,
            space=project.space_id,
            description=project.description,
            labels=list(project.labels),
            created_at=project.created_at,
            lock=lock,
            expires_at=project.expires_at,
            archived_at=project.archived_at,
            drift_interval_seconds=project.drift_interval_seconds,
        )


class ProjectList(BaseModel):
    projects: list[ProjectView]
    next_cursor: str | None = Field(
        default=None, description="Pass as `cursor` to get the next page; null at the end."
    )


class UseResult(BaseModel):
    project: ProjectView
    message: str


async def load_project(caller: Caller, ref: str) -> Project:
    """The project ``ref`` names; a call of its lock holder on it renews the lease.

    Every project-scoped call (REST, MCP, UI; reads included) loads its project here, so
    "the lease lapses only after that long without calls" holds for every door."""
    async with caller.db.session() as session:
        project = await store_projects.find_project(session, ref)
        mirror = await store_projects.lock_of(session, project.id) if project else None
    if project is None:
        raise NotFound(
            f"project {ref!r} does not exist; list projects with project-list or create it "
            "with project-create"
        )
    if mirror is not None and _renewal_due(caller, mirror):
        await locks.touch(caller, project)
    return project


def _renewal_due(caller: Caller, mirror: ProjectLock) -> bool:
    """Whether the caller holds the (mirrored) lease and it was not renewed just now.

    A burst of calls renews once: within a tenth of the lease (at most 30 s) the expiry
    has hardly moved, and each renewal is a Temporal update."""
    now = utcnow()
    if mirror.holder_id != caller.actor.id or not mirror.expires_at or mirror.expires_at <= now:
        return False
    quiet = min(30.0, caller.settings.lock_lease_seconds / 10)
    return mirror.renewed_at is None or (now - mirror.renewed_at).total_seconds() >= quiet


async def create_project(caller: Caller, body: ProjectCreate) -> ProjectView:
    expires_at = None
    if body.ttl:
        now = utcnow()
        expires_at = ttl.expiry_from(body.ttl, now)
        ttl.checked_expiry(caller.settings, ROOT_SPACE_ID, expires_at, now)
    try:
        async with caller.db.transaction() as session:
            project = await store_projects.create_project(
                session,
                name=body.name,
                description=body.description,
                labels=body.labels,
                created_by=caller.actor.id,
                space_id=ROOT_SPACE_ID,
            )
            project.expires_at = expires_at
            project.ttl_set_by = caller.actor.name if expires_at else None
            project.drift_interval_seconds = caller.settings.drift_interval_seconds
            if caller.settings.sandbox:
                session.add(sandbox_integration(project.id, caller.settings.sandbox_region))
            await history.record(
                session,
                subject="project",
                operation="create",
                status="succeeded",
                actor=caller.actor,
                project_id=project.id,
                after={
                    "name": project.name,
                    "labels": list(project.labels),
                    "expires_at": expires_at.isoformat() if expires_at else None,
                },
            )
    except IntegrityError as exc:
        raise Conflict(
            f"a project named {body.name!r} already exists in space {ROOT_SPACE_ID}; "
            "pick another name, or call project-use to work in the existing one"
        ) from exc
    await _start_lifecycle(caller, project)
    return ProjectView.build(project, LockView(locked=False))


async def _start_lifecycle(caller: Caller, project: Project) -> None:
    """A new project's TTL clock and drift schedule, when it has them."""
    if project.expires_at is not None:
        await ttl.start_clock(caller, project)
    if project.drift_interval_seconds:
        await drift.apply_schedule(caller, project)


async def list_projects(
    caller: Caller, *, limit: int = 50, cursor: str | None = None
) -> ProjectList:
    limit = max(1, min(limit, 200))
    async with caller.db.session() as session:
        rows = await store_projects.list_projects(session, limit=limit + 1, after=cursor)
    page = rows[:limit]
    return ProjectList(
        projects=[ProjectView.build(p, LockView.from_mirror(lock)) for p, lock in page],
        next_cursor=page[-1][0].id if len(rows) > limit else None,
    )


async def get_project(caller: Caller, ref: str) -> ProjectView:
    project = await load_project(caller, ref)
    async with caller.db.session() as session:
        lock = await store_projects.lock_of(session, project.id)
    return ProjectView.build(project, LockView.from_mirror(lock))


async def use_project(caller: Caller, ref: str) -> UseResult:
    project = await load_project(caller, ref)
    refuse_archived(project)
    lease = await locks.acquire(caller, project)
    view = ProjectView.build(project, LockView.from_lease(lease))
    until = lease.expires_at.isoformat() if lease.expires_at else "?"
    notice = (
        ttl.notice(project.name, project.expires_at, caller.settings)
        if project.expires_at
        else None
    )
    return UseResult(
        project=view,
        message=(
            f"project {project.name} is locked to {caller.actor.name} until {until}; every "
            "call on it renews the lease. Call project-release when you are done."
        )
        + (f" WARNING: {notice}." if notice else ""),
    )


def expiry_notice(view: ProjectView, settings: Settings) -> str | None:
    """The warning a project page shows as its TTL approaches (or the archive note)."""
    if view.archived_at is not None:
        return (
            f"archived at {view.archived_at.strftime('%Y-%m-%d %H:%M UTC')} when its TTL "
            "ended: its resources were deleted; its history stays"
        )
    if view.expires_at is None:
        return None
    return ttl.notice(view.name, view.expires_at, settings)


async def project_warnings(caller: Caller, project_id: str) -> list[str]:
    """What a tool result should tell the user about the project (an expiry ahead)."""
    async with caller.db.session() as session:
        project = await session.get(Project, project_id)
    if project is None or project.expires_at is None or project.archived_at is not None:
        return []
    found = ttl.notice(project.name, project.expires_at, caller.settings)
    return [found] if found else []


def refuse_archived(project: Project) -> None:
    """An archived project keeps its history but takes no work."""
    if project.archived_at is not None:
        raise Conflict(
            f"project {project.name} was archived at {project.archived_at.isoformat()} (its "
            "TTL ended); its history stays readable, but it takes no changes. Create a new "
            "project to work in"
        )


async def release_project(caller: Caller, ref: str, *, force: bool = False) -> UseResult:
    project = await load_project(caller, ref)
    if force:
        lease = await locks.force_release(caller, project)
    else:
        lease = await locks.release(caller, project)
    return UseResult(
        project=ProjectView.build(project, LockView.from_lease(lease)),
        message=f"project {project.name} is unlocked",
    )
