"""Projects: create, list, show, use (lock) and release."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError

from access.models import SpacePath, space_path
from access.permissions import is_allowed, move_refusal, ttl_refusal
from api.context import Caller
from api.errors import Busy, Conflict, NotFound
from api.services import drift, locks, ttl
from api.services.access import deny, load_space, path_of, readable, require, require_in
from settings import Settings
from store import access as access_store
from store import changes as store_changes
from store import history
from store import policies as store_policies
from store import projects as store_projects
from store import resources as store_resources
from store.integrations import detach_outside, ensure_sandbox
from store.models import ROOT_SPACE_ID, IntegrationAttachment, Project, ProjectLock
from store.types import utcnow
from workflows.lock import Lease

__all__ = [
    "LockView",
    "ProjectCreate",
    "ProjectList",
    "ProjectUpdate",
    "ProjectView",
    "UseResult",
    "create_project",
    "delete_project",
    "expiry_notice",
    "get_project",
    "list_projects",
    "load_project",
    "located",
    "project_path",
    "project_warnings",
    "refuse_archived",
    "release_project",
    "update_project",
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
    space: str | None = Field(
        default=None, description="Space (name or id) to create it in; default root."
    )
    ttl: str | None = Field(
        default=None,
        description="Delete every resource and archive the project after this: a duration "
        "(2h, 7d, 1d12h) or a timestamp (2026-12-24T18:00:00Z)",
    )


class ProjectUpdate(BaseModel):
    description: str | None = Field(default=None, max_length=2000)
    labels: list[str] | None = Field(default=None, max_length=50)
    space: str | None = Field(default=None, description="Move it to this space (name or id).")


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
    space: str = Field(description="The name of the space it lives in")
    space_id: str
    description: str
    labels: list[str]
    created_at: datetime
    lock: LockView
    expires_at: datetime | None = Field(
        default=None, description="TTL: then its resources are deleted and it is archived"
    )
    archived_at: datetime | None = None
    drift_interval_seconds: float | None = None
    pool: str | None = Field(
        default=None, description="The worker pool its provider work runs on, if any"
    )

    @classmethod
    def build(cls, project: Project, lock: LockView, space: str | None = None) -> ProjectView:
        return cls(
            id=project.id,
            name=project.name,
            space=space or project.space_id,
            space_id=project.space_id,
            description=project.description,
            labels=list(project.labels),
            created_at=project.created_at,
            lock=lock,
            expires_at=project.expires_at,
            archived_at=project.archived_at,
            drift_interval_seconds=project.drift_interval_seconds,
            pool=project.pool,
        )


class ProjectList(BaseModel):
    projects: list[ProjectView]
    next_cursor: str | None = Field(
        default=None, description="Pass as `cursor` to get the next page; null at the end."
    )


class UseResult(BaseModel):
    project: ProjectView
    message: str


READ = "intent-project:read"


async def located(caller: Caller, ref: str) -> tuple[Project, SpacePath]:
    """The project ``ref`` names and its space path; among projects of the same name in
    several spaces, the first the caller may see.

    Every project-scoped call (REST, MCP, UI; reads included) finds its project here, so
    a call of the lock holder renews the lease: "the lease lapses only after that long
    without calls" holds for every door."""
    async with caller.db.session() as session:
        found = await store_projects.find_projects(session, ref)
        spaces = await access_store.space_map(session)
    if not found:
        raise NotFound(
            f"project {ref!r} does not exist; list projects with project-list or create it "
            "with project-create"
        )
    paths = [(project, space_path(project.space_id, spaces)) for project in found]
    chosen = next(
        ((p, path) for p, path in paths if is_allowed(caller.principal, READ, path)), paths[0]
    )
    async with caller.db.session() as session:
        mirror = await store_projects.lock_of(session, chosen[0].id)
    if mirror is not None and _renewal_due(caller, mirror):
        await locks.touch(caller, chosen[0])
    return chosen


def _renewal_due(caller: Caller, mirror: ProjectLock) -> bool:
    """Whether the caller holds the (mirrored) lease and it was not renewed just now.

    A burst of calls renews once: within a tenth of the lease (at most 30 s) the expiry
    has hardly moved, and each renewal is a Temporal update."""
    now = utcnow()
    if mirror.holder_id != caller.actor.id or not mirror.expires_at or mirror.expires_at <= now:
        return False
    quiet = min(30.0, caller.settings.lock_lease_seconds / 10)
    return mirror.renewed_at is None or (now - mirror.renewed_at).total_seconds() >= quiet


async def load_project(caller: Caller, ref: str, action: str = READ) -> Project:
    """The project ``ref`` names, if the caller may ``action`` in it (403 otherwise)."""
    project, path = await located(caller, ref)
    require(caller, action, path)
    return project


async def project_path(caller: Caller, project: Project) -> SpacePath:
    return await path_of(caller, project.space_id)


async def create_project(caller: Caller, body: ProjectCreate) -> ProjectView:
    space = await load_space(caller, body.space or ROOT_SPACE_ID)
    await require_in(caller, "intent-project:create", space.id)
    expires_at = None
    if body.ttl:
        now = utcnow()
        path = await path_of(caller, space.id)
        deny(ttl_refusal(caller.principal, path, extends=False))
        expires_at = ttl.expiry_from(body.ttl, now)
        ttl.checked_expiry(caller.settings, path, expires_at, now)
    try:
        async with caller.db.transaction() as session:
            project = await store_projects.create_project(
                session,
                name=body.name,
                description=body.description,
                labels=body.labels,
                created_by=caller.actor.id,
                space_id=space.id,
            )
            project.expires_at = expires_at
            project.ttl_set_by = caller.actor.name if expires_at else None
            project.drift_interval_seconds = caller.settings.drift_interval_seconds
            if caller.settings.sandbox:
                # New projects play in the sandbox until a real integration is attached.
                region = caller.settings.sandbox_region
                sandbox = await ensure_sandbox(session, region)
                session.add(
                    IntegrationAttachment(
                        project_id=project.id,
                        integration_id=sandbox.id,
                        provider=sandbox.provider,
                        region=region,
                        read=True,
                        write=True,
                        created_by=caller.actor.id,
                    )
                )
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
                    "space": space.name,
                    "expires_at": expires_at.isoformat() if expires_at else None,
                },
            )
    except IntegrityError as exc:
        raise Conflict(
            f"a project named {body.name!r} already exists in space {space.name}; "
            "pick another name, or call project-use to work in the existing one"
        ) from exc
    await _start_lifecycle(caller, project)
    return ProjectView.build(project, LockView(locked=False), space.name)


async def _start_lifecycle(caller: Caller, project: Project) -> None:
    """A new project's TTL clock and drift schedule, when it has them."""
    if project.expires_at is not None:
        await ttl.start_clock(caller, project)
    if project.drift_interval_seconds:
        await drift.apply_schedule(caller, project)


async def list_projects(
    caller: Caller, *, limit: int = 50, cursor: str | None = None
) -> ProjectList:
    """The projects the caller may see."""
    limit = max(1, min(limit, 200))
    visible = await readable(caller, READ)
    async with caller.db.session() as session:
        rows = await store_projects.list_projects(
            session, limit=limit + 1, after=cursor, space_ids=visible
        )
        spaces = await access_store.space_map(session)
    page = rows[:limit]
    return ProjectList(
        projects=[
            ProjectView.build(p, LockView.from_mirror(lock), spaces.get(p.space_id, ("",))[0])
            for p, lock in page
        ],
        next_cursor=page[-1][0].id if len(rows) > limit else None,
    )


async def get_project(caller: Caller, ref: str) -> ProjectView:
    project, path = await located(caller, ref)
    require(caller, READ, path)
    async with caller.db.session() as session:
        lock = await store_projects.lock_of(session, project.id)
    return ProjectView.build(project, LockView.from_mirror(lock), path[-1].name)


async def update_project(caller: Caller, ref: str, body: ProjectUpdate) -> ProjectView:
    """Change a project's description or labels, or move it to another space (the
    permission rules' ``move_refusal``). History names the policies that stop or start
    governing it."""
    project, path = await located(caller, ref)
    require(caller, "intent-project:update", path)
    target = None
    if body.space is not None:
        target = await load_space(caller, body.space)
        if target.id == project.space_id:
            target = None  # already there: not a move
        else:
            deny(move_refusal(caller.principal, path, await path_of(caller, target.id)))
    before = {"description": project.description, "labels": list(project.labels)}
    before["space"] = path[-1].name
    try:
        async with caller.db.transaction() as session:
            row = await session.get(Project, project.id)
            assert row is not None
            governing = {p.name for p, _ in await store_policies.attached_policies(session, row)}
            if body.description is not None:
                row.description = body.description
            if body.labels is not None:
                row.labels = sorted(set(body.labels))
            detached: list[str] = []
            if target is not None:
                row.space_id = target.id
                # Integrations serve their own space and below, like policies govern it.
                new_path = await access_store.path_of(session, target.id)
                detached = await detach_outside(session, row.id, {s.id for s in new_path})
            await session.flush()
            now = {p.name for p, _ in await store_policies.attached_policies(session, row)}
            after = {"description": row.description, "labels": list(row.labels)}
            after["space"] = target.name if target else path[-1].name
            await history.record(
                session,
                subject="project",
                operation="move" if target is not None else "update",
                status="succeeded",
                actor=caller.actor,
                project_id=row.id,
                before=before,
                after=after,
                details={
                    "policies_stopped": sorted(governing - now),
                    "policies_started": sorted(now - governing),
                    "integrations_detached": sorted(detached),
                },
            )
    except IntegrityError as exc:
        raise Conflict(
            f"space {target.name if target else path[-1].name} already has a project named "
            f"{project.name}; rename one of them first"
        ) from exc
    return await get_project(caller, row.id)


async def delete_project(caller: Caller, ref: str) -> None:
    """Delete a project that manages nothing any more (delete or eject its resources
    first) and that nobody holds locked."""
    project, path = await located(caller, ref)
    require(caller, "intent-project:delete", path)
    lease = await locks.lease(caller, project)
    if lease.held and lease.holder is not None and lease.holder.id != caller.actor.id:
        raise Busy(f"project {project.name} is locked by {lease.holder.name}; it stays")
    async with caller.db.transaction() as session:
        await store_changes.serialize_project(session, project.id)
        running = await store_changes.unfinished_change(session, project.id)
        if running is not None:
            raise Conflict(
                f"change {running.id} of project {project.name} has not finished (it may "
                "still create or delete resources); wait for it to end, or abandon it, "
                "then delete the project"
            )
        managed = await store_resources.count_resources(session, project.id)
        if managed:
            raise Conflict(
                f"project {project.name} still manages {managed} resource(s); delete or eject "
                "them first (it would otherwise forget real infrastructure)"
            )
        await history.record(
            session,
            subject="project",
            operation="delete",
            status="succeeded",
            actor=caller.actor,
            project_id=project.id,
            before={"name": project.name, "space": path[-1].name},
        )
        await session.delete(await session.get(Project, project.id))
    await locks.end(caller, project)
    await drift.remove_schedule(caller, project)
    await ttl.stop_clock(caller, project)


async def use_project(caller: Caller, ref: str) -> UseResult:
    project = await load_project(caller, ref, "intent-project:lock")
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
    """Release your own lock; ``force`` releases anyone's (intent-project:unlock)."""
    project = await load_project(caller, ref, "intent-project:unlock" if force else READ)
    if force:
        lease = await locks.force_release(caller, project)
    else:
        lease = await locks.release(caller, project)
    return UseResult(
        project=ProjectView.build(project, LockView.from_lease(lease)),
        message=f"project {project.name} is unlocked",
    )
