"""The drift room: re-read a project's resources from the cloud and mark what changed
outside intent (attributes, or objects deleted), without touching state or the lock.

A scheduled check (``DriftCheckWorkflow``) runs while people work: it reads only (no
state writes, no lease), skips resources a change in flight holds, and records a
history row only when a resource's drift is new or different. An interactive refresh
(a change the lock holder asked for) also adopts what it read; both mark drift the same
way (``drift_mark``).
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from temporalio import activity

from activities.heartbeat import heartbeating
from activities.planning import stored_state
from activities.runtime import ProviderRefused, Runtime
from providers.errors import ProviderCrashedError, ProviderError, ProviderLaunchError
from providers.install import ProviderInstallError
from providers.plan import AttributeChange
from store import changes as store_changes
from store import history
from store import resources as store_resources
from store.models import Project, Resource
from store.types import utcnow
from workflows.models import DriftCheckInput, DriftedResource, DriftReport, DriftTarget

__all__ = ["DRIFT_ACTOR", "DriftActivities", "changes_of", "drift_mark", "meaningful"]


class _DriftActor:
    id = "system:drift"
    name = "drift schedule"
    via = "schedule"


DRIFT_ACTOR = _DriftActor()


def _empty(value: Any) -> bool:
    return value in (None, "", [], {})


def meaningful(drift: list[AttributeChange]) -> list[AttributeChange]:
    """Drift without the null-versus-empty changes the legacy SDK reads back (``{}`` for
    tags given as null): Terraform treats them as equal, so does intent."""
    return [c for c in drift if not (_empty(c.before) and _empty(c.after))]


def changes_of(drift: list[AttributeChange]) -> list[dict[str, Any]]:
    """A provider's drift as history and marks show it (sensitive values redacted)."""
    out = []
    for change in meaningful(drift):
        entry: dict[str, Any] = {
            "attribute": change.attribute,
            "before": change.before,
            "after": change.after,
        }
        if change.sensitive:
            entry["sensitive"] = True
        out.append(entry)
    return out


def drift_mark(
    changes: list[dict[str, Any]], *, deleted: bool, change_id: str | None, at: datetime
) -> dict[str, Any] | None:
    """What a resource's ``drift`` column says after a refresh (None: no drift); null and
    empty count as equal (``meaningful``)."""
    changes = [c for c in changes if not (_empty(c.get("before")) and _empty(c.get("after")))]
    if not deleted and not changes:
        return None
    return {
        "detected_at": at.isoformat(),
        "change_id": change_id,
        "deleted": deleted,
        "changes": [] if deleted else changes,
    }


def _same(before: dict[str, Any] | None, after: dict[str, Any] | None) -> bool:
    if before is None or after is None:
        return before is after
    return before.get("deleted") == after.get("deleted") and before.get("changes") == after.get(
        "changes"
    )


class DriftActivities:
    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime

    @activity.defn(name="drift_target")
    async def drift_target(self, input: DriftCheckInput) -> DriftTarget:
        async with self.rt.db.session() as session:
            project = await session.get(Project, input.project_id)
        scheduled = (
            project is not None
            and bool(project.drift_interval_seconds)
            and project.archived_at is None
        )
        return DriftTarget(scheduled=scheduled, pool=project.pool if project else None)

    @activity.defn(name="check_drift")
    async def check_drift(self, input: DriftCheckInput) -> DriftReport:
        if not (await self.drift_target(input)).scheduled:
            return DriftReport(project_id=input.project_id, checked=0)
        async with self.rt.db.session() as session:
            rows = await store_resources.list_resources(session, input.project_id)
            busy = await store_changes.busy_resources(session, input.project_id)
        todo = [r for r in rows if r.state is not None and r.resource_id not in busy]
        slots = asyncio.Semaphore(max(1, self.rt.settings.provider_concurrency))
        found: dict[str, tuple[list[AttributeChange], bool]] = {}
        failed: dict[str, str] = {}

        async def one(row: Resource) -> None:
            async with slots:
                try:
                    found[row.resource_id] = await self._read(input.project_id, row)
                except (ProviderCrashedError, ProviderLaunchError):
                    raise  # the machinery: the activity is retried
                except (ProviderError, ProviderRefused, ProviderInstallError, ValueError) as exc:
                    failed[row.resource_id] = str(exc)

        async with heartbeating():
            await asyncio.gather(*(one(r) for r in todo))
        report = await self._record(input, rows, found)
        report.skipped_busy = sorted(r.resource_id for r in rows if r.resource_id in busy)
        report.failed = failed
        return report

    async def _read(self, project_id: str, row: Resource) -> tuple[list[AttributeChange], bool]:
        binding = await self.rt.binding(
            project_id, row.provider, row.provider_version, actor=DRIFT_ACTOR.name
        )
        prior = stored_state(row)
        assert prior is not None
        async with self.rt.client(binding, "read") as client:
            read = await client.read(prior)
        return list(read.drift), read.state is None

    async def _record(
        self,
        input: DriftCheckInput,
        rows: list[Resource],
        found: dict[str, tuple[list[AttributeChange], bool]],
    ) -> DriftReport:
        """Marks and history rows in one transaction; a history row only for drift that
        is new or different from what the resource was already marked with."""
        now = utcnow()
        report = DriftReport(project_id=input.project_id, checked=len(found))
        by_id = {r.resource_id: r for r in rows}
        async with self.rt.db.transaction() as session:
            for resource_id, (drift, deleted) in sorted(found.items()):
                row = await store_resources.get_resource(session, input.project_id, resource_id)
                if row is None or row.state is None:
                    continue  # deleted from state meanwhile
                mark = drift_mark(changes_of(drift), deleted=deleted, change_id=None, at=now)
                if mark is not None:
                    report.drifted.append(
                        DriftedResource(
                            resource_id=resource_id,
                            resource_type=row.resource_type,
                            deleted=deleted,
                            changes=mark["changes"],
                        )
                    )
                if _same(row.drift, mark):
                    continue
                row.drift = mark
                await history.record(
                    session,
                    subject="resource",
                    operation="drift",
                    status=("deleted outside" if deleted else "drifted") if mark else "in sync",
                    actor=DRIFT_ACTOR,
                    project_id=input.project_id,
                    resource_id=resource_id,
                    resource_type=by_id[resource_id].resource_type,
                    reasons=[_reason(mark)],
                    details={"changes": mark["changes"] if mark else []},
                )
        return report


def _reason(mark: dict[str, Any] | None) -> str:
    if mark is None:
        return "matches intent's state again"
    if mark["deleted"]:
        return "deleted outside intent"
    names = ", ".join(c["attribute"] for c in mark["changes"][:10])
    return f"changed outside intent: {names}"
