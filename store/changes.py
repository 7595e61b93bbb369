"""Change rows: the request behind a ChangeWorkflow and its latest status."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from store.history import ActorLike
from store.models import ApplyJournal, Change, Project
from store.types import utcnow

__all__ = [
    "busy_resources",
    "claim_change",
    "create_change",
    "get_change",
    "list_changes",
    "serialize_project",
    "set_status",
    "unfinished_change",
    "update_request",
]


async def serialize_project(session: AsyncSession, project_id: str) -> None:
    """Take the project's row lock for this transaction (a write lock on SQLite), so two
    submissions for one project check for conflicts one after the other."""
    await session.execute(
        update(Project).where(Project.id == project_id).values(updated_at=utcnow())
    )


async def unfinished_change(session: AsyncSession, project_id: str) -> Change | None:
    """A change of the project (not a dry run) that has not finished, if any."""
    found: Change | None = await session.scalar(
        select(Change)
        .where(
            Change.project_id == project_id,
            Change.finished_at.is_(None),
            Change.dry_run.is_(False),
        )
        .order_by(Change.created_at)
        .limit(1)
    )
    return found


async def busy_resources(session: AsyncSession, project_id: str) -> dict[str, Change]:
    """Resource id → the unfinished change (not a dry run) that may still act on it.

    Operations the change already applied (journaled) are done with their resource.
    """
    rows = await session.scalars(
        select(Change).where(
            Change.project_id == project_id,
            Change.finished_at.is_(None),
            Change.dry_run.is_(False),
        )
    )
    busy: dict[str, Change] = {}
    for change in rows.all():
        applied = set(
            (
                await session.scalars(
                    select(ApplyJournal.operation_index).where(
                        ApplyJournal.change_id == change.id, ApplyJournal.status == "applied"
                    )
                )
            ).all()
        )
        for op in change.request:
            if op["index"] not in applied:
                busy[str(op["resource_id"])] = change
    return busy


async def create_change(
    session: AsyncSession,
    *,
    change_id: str,
    project_id: str,
    actor: ActorLike,
    dry_run: bool,
    request: list[dict[str, Any]],
) -> Change:
    row = Change(
        id=change_id,
        project_id=project_id,
        actor_id=actor.id,
        actor_name=actor.name,
        via=actor.via,
        dry_run=dry_run,
        request=request,
        status="planning",
    )
    session.add(row)
    await session.flush()
    return row


async def get_change(session: AsyncSession, change_id: str) -> Change | None:
    return await session.get(Change, change_id)


async def list_changes(
    session: AsyncSession,
    *,
    project_id: str | None = None,
    status: str | None = None,
    limit: int = 50,
    before_id: str | None = None,
    space_ids: Collection[str] | None = None,
) -> list[Change]:
    """Newest first; only in ``space_ids`` (the projects' spaces) when given."""
    query = select(Change).order_by(Change.created_at.desc(), Change.id.desc()).limit(limit)
    if project_id:
        query = query.where(Change.project_id == project_id)
    if space_ids is not None:
        query = query.join(Project, Project.id == Change.project_id).where(
            Project.space_id.in_(list(space_ids))
        )
    if status:
        query = query.where(Change.status == status)
    if before_id:
        anchor = await session.get(Change, before_id)
        if anchor is not None:
            # Strictly after the anchor in (created_at, id) order: no row twice.
            query = query.where(
                or_(
                    Change.created_at < anchor.created_at,
                    and_(Change.created_at == anchor.created_at, Change.id < anchor.id),
                )
            )
    return list((await session.scalars(query)).all())


async def set_status(
    session: AsyncSession,
    change_id: str,
    status: str,
    summary: dict[str, Any] | None = None,
    *,
    final: bool = False,
    stage: int | None = None,
) -> bool:
    """Write the status (and summary); False when nothing was written.

    ``stage`` numbers the workflow's bookkeeping writes (increasing): one already
    written (a retried attempt) or older than the last is not written again.
    """
    row = await session.get(Change, change_id, with_for_update=True)
    if row is None:
        return False
    if stage is not None:
        if int(row.summary.get("stage", -1)) >= stage:
            return False
        summary = {**(summary or {}), "stage": stage}
    if row.finished_at is not None and not final:
        return False  # a late, retried write must not reopen a finished change
    row.status = status
    if summary:
        row.summary = {**row.summary, **summary}
    if final and row.finished_at is None:
        row.finished_at = utcnow()
    return True


async def update_request(
    session: AsyncSession, change_id: str, request: list[dict[str, Any]]
) -> None:
    row = await session.get(Change, change_id, with_for_update=True)
    if row is not None:
        row.request = request


async def claim_change(session: AsyncSession, change_id: str, run_chain: str) -> bool:
    """Record that ``run_chain`` runs the change, if nobody did before; whether it does."""
    result = await session.execute(
        update(Change)
        .where(Change.id == change_id, Change.run_chain.is_(None))
        .values(run_chain=run_chain)
    )
    if result.rowcount:  # type: ignore[attr-defined]
        return True
    current = await session.scalar(select(Change.run_chain).where(Change.id == change_id))
    return current == run_chain
