"""Rollback: a new change that returns resources to a configuration they had before.

Built from the resource versions every applied operation records (``store/versions.py``):

- ``change-revert``: what a past change touched goes back to its configuration before
  it. Updates are undone, resources it created are deleted, resources it deleted are
  created again from their last configuration (the data inside them is not restored).
  Refused, naming the change, when a later change touched the same resources, unless
  the caller asks to revert those later changes too.
- ``resource-revert``: one resource goes back to the configuration a given change left
  it with.

The revert is a change like any other: planned, checked against the project's policies,
confirmed when it deletes, recorded. The server decides only which resources go where
(from versions' metadata); the worker opens the recorded configurations.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel, Field

from api.context import Caller
from api.errors import Conflict, Invalid, NotFound
from api.services import changes
from api.services.changes import OperationInput, current_project
from api.services.projects import load_project
from store import changes as store_changes
from store import history
from store import resources as store_resources
from store import versions as store_versions
from store.models import ResourceVersion
from workflows.models import Restore

__all__ = ["ResourceRevertRequest", "RevertRequest", "revert_change", "revert_resource"]


class RevertRequest(BaseModel):
    include_later: bool = Field(
        default=False,
        description="Also revert the later changes that touched the same resources",
    )


class ResourceRevertRequest(BaseModel):
    to_change_id: str = Field(description="Return the resource to what this change left it as")


def _restore(
    resource_id: str, version: ResourceVersion, side: str, exists: bool
) -> OperationInput | None:
    """The operation that brings ``resource_id`` to ``version``'s config on ``side``."""
    target = version.config_before if side == "before" else version.config_after
    if target is None:  # it did not exist then: created by that change, or deleted by it
        return OperationInput(kind="delete", resource_id=resource_id) if exists else None
    restore = Restore(version_id=version.id, side="before" if side == "before" else "after")
    return OperationInput(
        kind="update" if exists else "create",
        resource_id=resource_id,
        resource_type=version.resource_type,
        restore=restore,
    )


async def _later(
    caller: Caller, project_id: str, resource_ids: Iterable[str], after_id: str
) -> list[ResourceVersion]:
    async with caller.db.session() as session:
        return await store_versions.later_versions(session, project_id, set(resource_ids), after_id)


async def revert_change(caller: Caller, change_id: str, *, include_later: bool = False) -> str:
    """Start the change that undoes ``change_id`` (and, if asked, later changes to the
    same resources); return its id."""
    async with caller.db.session() as session:
        change = await store_changes.get_change(session, change_id)
        applied = await store_versions.versions_of(session, [change_id]) if change else []
    if change is None:
        raise NotFound(f"change {change_id} does not exist; list changes with history-list")
    project = await load_project(caller, change.project_id)
    if not applied:
        raise Invalid(
            f"change {change_id} ({change.status}) changed no resource's configuration; there "
            "is nothing to revert"
        )
    reverted = {change_id}
    versions = list(applied)
    later = await _later(caller, project.id, {v.resource_id for v in versions}, applied[-1].id)
    if later and not include_later:
        names = sorted({v.resource_id for v in later})
        latest = later[-1].change_id
        raise Conflict(
            f"change {change_id} cannot be reverted alone: change {latest} (and "
            f"{len({v.change_id for v in later})} later change(s) in all) changed "
            f"{', '.join(names)} since; revert that first, or revert the later changes too "
            "(include_later)"
        )
    # Whatever touched the same resources since goes too, and what those touched, ...
    while later:
        reverted |= {v.change_id for v in later}
        async with caller.db.session() as session:
            versions = await store_versions.versions_of(session, reverted)
        later = [
            v
            for v in await _later(
                caller, project.id, {v.resource_id for v in versions}, applied[0].id
            )
            if v.change_id not in reverted
        ]
    earliest: dict[str, ResourceVersion] = {}
    for version in versions:
        earliest.setdefault(version.resource_id, version)
    imported = sorted(rid for rid, v in earliest.items() if v.action == "import")
    if imported:
        raise Invalid(
            f"reverting would delete {', '.join(imported)}, which intent imported rather than "
            "created: an import is undone by no longer managing the object, not by deleting "
            "it. Eject it with state-eject, then revert what else changed"
        )
    operations = await _operations(caller, project.id, earliest, "before")
    if not operations:
        raise Invalid(f"the resources change {change_id} touched are already as they were")
    new_id = await changes.submit(caller, project.id, operations)
    await _record(caller, project.id, new_id, sorted(reverted), list(earliest))
    return new_id


async def revert_resource(
    caller: Caller, project_ref: str | None, resource_id: str, to_change_id: str
) -> str:
    """Start the change that returns ``resource_id`` to what ``to_change_id`` left it as."""
    project = await current_project(caller, project_ref)
    async with caller.db.session() as session:
        found = [
            v
            for v in await store_versions.versions_of(session, [to_change_id])
            if v.resource_id == resource_id and v.project_id == project.id
        ]
    if not found:
        raise Invalid(
            f"change {to_change_id} did not change {resource_id} in project {project.name}; "
            "history-list with resource_id shows the changes that did"
        )
    operations = await _operations(caller, project.id, {resource_id: found[0]}, "after")
    if not operations:
        raise Invalid(f"{resource_id} is already gone, as change {to_change_id} left it")
    new_id = await changes.submit(caller, project.id, operations)
    await _record(caller, project.id, new_id, [to_change_id], [resource_id])
    return new_id


async def _operations(
    caller: Caller, project_id: str, targets: dict[str, ResourceVersion], side: str
) -> list[OperationInput]:
    async with caller.db.session() as session:
        existing = {
            r.resource_id for r in await store_resources.list_resources(session, project_id)
        }
    operations = []
    for resource_id, version in sorted(targets.items()):
        op = _restore(resource_id, version, side, resource_id in existing)
        if op is not None:
            operations.append(op)
    return operations


async def _record(
    caller: Caller, project_id: str, change_id: str, reverted: list[str], resources: list[str]
) -> None:
    async with caller.db.transaction() as session:
        await history.record(
            session,
            subject="change",
            operation="revert",
            status="started",
            actor=caller.actor,
            project_id=project_id,
            change_id=change_id,
            reasons=[f"reverts {', '.join(reverted)}"],
            details={"reverted": reverted, "resources": sorted(resources)},
        )
