"""The apply room: the apply stage of a change, in one activity.

Operations run as a sliding window over their dependency order (each starts as soon
as what it waits for was applied, deletes in reverse, at most ``window`` at once); one
that failed blocks only what depends on it. Each operation is idempotent per (change
id, operation index) through the apply journal, reuses the plan this worker made for
it when nothing it depends on changed since (one refresh per change), and commits the
resource's state with its history row in one transaction. What goes back to the
workflow is redacted.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from temporalio import activity

from activities.bookkeeping import write_stage
from activities.drift import drift_mark
from activities.heartbeat import heartbeating
from activities.lease import LeaseActivities
from activities.operations import Operations
from activities.plan import INFRASTRUCTURE
from activities.planning import (
    action_of,
    config_from_state,
    desired_config,
    error_view,
    history_changes,
    import_id_candidates,
    redacted_config,
    references_of,
    resolve_config,
    stored_state,
    taint_reason,
)
from activities.runtime import ProviderBinding, ProviderRefused
from activities.window import run_window
from integrations.kinds import Access
from providers.codec import contains_unknown
from providers.errors import ProviderApplyError, ProviderError
from providers.results import ApplyResult as ProviderApplyResult
from providers.results import ResourceState
from store import history, journal, resources, versions
from store.models import Resource
from store.types import utcnow
from workflows.actor import Actor
from workflows.models import (
    Action,
    ApplyInput,
    ApplyItem,
    ApplyOutcome,
    ApplyResult,
    CheckLeaseInput,
    DiagnosticView,
    OperationRequest,
    ProjectInfo,
)
from workflows.references import ReferenceError

if TYPE_CHECKING:
    from activities.runtime import Runtime
    from providers.client import ProviderClient

__all__ = ["ApplyActivities"]

log = logging.getLogger(__name__)

# Actions a human approved explicitly; a fresh plan may not escalate to them silently.
_CONFIRMED_ACTIONS = {"delete", "replace"}
# Actions after which the resource had no configuration before (nothing to return to).
_NEW = frozenset({"create", "import"})


@dataclass(frozen=True)
class _Step:
    """One operation of the stage, as approved."""

    change_id: str
    project: ProjectInfo
    actor: Actor
    index: int
    approved_action: Action
    approved_by: str | None
    request: OperationRequest
    row: Resource | None
    interrupted: bool

    @classmethod
    def of(
        cls,
        input: ApplyInput,
        item: ApplyItem,
        request: OperationRequest,
        row: Resource | None,
        interrupted: bool,
    ) -> _Step:
        return cls(
            change_id=input.change_id,
            project=input.project,
            actor=input.actor,
            index=item.index,
            approved_action=item.approved_action,
            approved_by=input.approved_by,
            request=request,
            row=row,
            interrupted=interrupted,
        )


def _new_row(step: _Step, client: ProviderClient) -> Resource:
    """The row of a resource this change brings into state."""
    return Resource(
        project_id=step.project.id,
        resource_id=step.request.resource_id,
        resource_type=step.request.resource_type,
        provider=client.installed.address.short,
        provider_version=client.installed.version,
    )


class ApplyActivities:
    def __init__(self, runtime: Runtime, operations: Operations, lease: LeaseActivities) -> None:
        self.rt = runtime
        self.ops = operations
        self.lease = lease

    @activity.defn(name="apply_change")
    async def apply_change(self, input: ApplyInput) -> ApplyOutcome:
        if input.check_lease:
            await self.lease.ensure(
                input.lease
                or CheckLeaseInput(
                    project=input.project, actor=input.actor, change_id=input.change_id
                )
            )
        items = {item.index: item for item in input.operations}
        loaded = await self.ops.load(input.change_id, input.project.id, items)
        requests = {r.index: r for r in loaded.requests}
        stored = loaded.stored
        results: dict[int, ApplyResult] = {}
        interrupted: dict[int, bool] = {}
        # The bindings (installation checks, the project's environment) and the journal
        # are independent: both at once.
        binding = asyncio.ensure_future(
            self.ops.bindings(
                input.change_id, loaded, input.project.id, [requests[i] for i in items]
            )
        )
        try:
            async with self.rt.db.transaction() as session:
                if input.stage is not None:
                    await write_stage(session, input.stage)
                for index in items:
                    recorded, interrupted[index] = await journal.start(
                        session, input.change_id, index
                    )
                    if recorded is not None:  # a finished attempt: its result, as it was
                        results[index] = ApplyResult.model_validate(recorded)
        finally:
            bound = await asyncio.gather(binding, return_exceptions=True)
        bindings: dict[int, ProviderBinding] = {}
        if isinstance(bound[0], ProviderRefused):
            for index in items:
                results.setdefault(
                    index,
                    ApplyResult(
                        index=index,
                        status="failed",
                        action=items[index].approved_action,
                        diagnostics=error_view(bound[0]),
                    ),
                )
        elif isinstance(bound[0], BaseException):
            raise bound[0]
        else:
            bindings = bound[0]
        # Wire values references resolve against, updated as operations commit.
        values: dict[str, dict[str, Any] | None] = {rid: r.state for rid, r in stored.items()}

        async def run(index: int) -> bool:
            if index not in results:
                request = requests[index]
                step = _Step.of(
                    input,
                    items[index],
                    request,
                    stored.get(request.resource_id),
                    interrupted[index],
                )
                results[index] = await self._apply(
                    step, items[index].request_digest, bindings[index], values
                )
            # A result recorded by an earlier attempt is already in ``stored``.
            return results[index].status == "applied"

        order = {i: frozenset(j for j in item.after if j in items) for i, item in items.items()}
        async with heartbeating():
            outcomes = await run_window(order, input.window, run)
        for index, outcome in outcomes.items():
            if outcome == "blocked":
                waited = ", ".join(requests[j].resource_id for j in order[index])
                results[index] = ApplyResult(
                    index=index,
                    status="blocked",
                    action=items[index].approved_action,
                    diagnostics=[
                        DiagnosticView(
                            summary=f"not applied: what it depends on ({waited}) was not applied"
                        )
                    ],
                )
        finished = False
        if input.finish is not None and all(r.status == "applied" for r in results.values()):
            async with self.rt.db.transaction() as session:
                await write_stage(session, input.finish)
            finished = True
        return ApplyOutcome(results=[results[i] for i in sorted(results)], finished=finished)

    # -- one operation -----------------------------------------------------------------

    async def _apply(
        self,
        step: _Step,
        digest: str,
        binding: ProviderBinding,
        values: dict[str, dict[str, Any] | None],
    ) -> ApplyResult:
        """Apply one operation; a failure of the config or the cloud is its result (with
        what the provider returned kept), a failure of the machinery raises (retried)."""
        request = step.request
        # Imports and refreshes read; everything else writes (with the write role).
        access: Access = "read" if request.kind in ("import", "refresh") else "write"
        try:
            async with self.rt.client(binding, access) as client:
                try:
                    if digest and digest != self.ops.digest(request, binding):
                        # The stored request, or where it acts (the project's integration,
                        # region or environment), changed after it was planned (and checked
                        # and confirmed): applying it now would apply something nobody
                        # reviewed, or somewhere nobody reviewed.
                        raise ProviderError(
                            f"{request.resource_id}: the request or where it acts (the "
                            "project's integration, region or environment) changed after it "
                            "was planned; retry the change to plan, check and confirm it again"
                        )
                    result = await self._apply_one(step, digest, binding, client, values)
                except INFRASTRUCTURE:
                    # Like a worker dying: the journal stays "started" (or "calling"), so the
                    # retried attempt knows it may have reached the cloud.
                    raise
                except ProviderApplyError as exc:
                    partial = exc.result if isinstance(exc.result, ProviderApplyResult) else None
                    return await self._commit_failure(step, client, exc, partial)
                except (ProviderError, ReferenceError, ProviderRefused) as exc:
                    return await self._commit_failure(step, client, exc, None)
        except ProviderRefused as exc:
            # Refused before any provider was called (Write off, the role could not be
            # assumed): nothing reached the cloud.
            return await self._refused(step, exc)
        return result

    async def _apply_one(
        self,
        step: _Step,
        digest: str,
        binding: ProviderBinding,
        client: ProviderClient,
        values: dict[str, dict[str, Any] | None],
    ) -> ApplyResult:
        request, row = step.request, step.row
        type_name = request.resource_type
        made = self.ops.plans.take(
            step.change_id, step.index, digest, row.state if row is not None else None
        )
        if request.kind == "import":
            assert request.import_id is not None
            if made is not None and made.read and made.state is not None:
                imported_state = made.state
            else:
                imported_state = (await client.import_resource(type_name, request.import_id)).state
            adopted = request.config or config_from_state(client, type_name, imported_state)
            return await self._commit(step, client, imported_state, adopted, None, "import", values)
        prior = stored_state(row) if row is not None else None
        if request.kind == "refresh":
            assert prior is not None and row is not None
            if made is not None and made.read:
                refreshed = made.state
            else:
                refreshed = (await client.read(prior)).state
            action: Action = "refresh" if refreshed is not None else "gone"
            return await self._commit(step, client, refreshed, row.config, prior, action, values)

        if request.kind == "create" and step.interrupted and row is None:
            recovered = await self._recover_create(step, client, values)
            if recovered is not None:
                return recovered
            # Creating again could make a second object: let a human look first.
            raise ProviderError(
                f"{request.resource_id}: an earlier attempt was interrupted after asking the "
                "provider to create it, and it could not be found by its name, so it may "
                "exist without intent knowing. Check the cloud, then import it, or retry "
                "the change to create it again."
            )
        config = desired_config(request, row)
        deleted = {request.resource_id} if request.kind == "delete" else set()
        resolved = resolve_config(config, values, deleted)
        if resolved is not None and contains_unknown(resolved):
            raise ProviderError(
                f"{request.resource_id}: a referenced value is still unknown at apply time; "
                "retry once the resources it references are applied"
            )
        if made is not None and made.change is not None:
            # The plan's refresh stands: the final plan inside apply uses the values
            # known now (Terraform applies a saved plan the same way).
            change = made.change
        else:
            tainted = taint_reason(row) is not None
            change = await client.plan(type_name, prior, resolved, force_replace=tainted)
        action = action_of(change)
        if action in _CONFIRMED_ACTIONS and action != step.approved_action:
            raise ProviderError(
                f"{request.resource_id}: the plan changed from {step.approved_action} to "
                f"{action} since it was approved; retry the change to review it again"
            )
        if action == "no-op":
            return await self._commit(step, client, change.prior, config, prior, action, values)
        await self._journal_calling(step)
        result = await client.apply(change, resolved)
        if self.rt.settings.fault_apply_pause_seconds:
            log.warning("failure drill: pausing before committing %s", request.resource_id)
            await asyncio.sleep(self.rt.settings.fault_apply_pause_seconds)
        return await self._commit(step, client, result.state, config, prior, action, values)

    async def _recover_create(
        self, step: _Step, client: ProviderClient, values: dict[str, dict[str, Any] | None]
    ) -> ApplyResult | None:
        """An earlier attempt died after reaching the provider: adopt what it created."""
        request = step.request
        try:
            resolved = resolve_config(request.config, values, set())
        except ReferenceError:
            return None
        for candidate in import_id_candidates(resolved):
            try:
                imported = await client.import_resource(request.resource_type, candidate)
            except ProviderError:
                continue
            log.warning(
                "change %s op %s: adopting %s %s created by an interrupted attempt",
                step.change_id,
                step.index,
                request.resource_type,
                candidate,
            )
            result = await self._commit(
                step, client, imported.state, request.config, None, "create", values
            )
            return result.model_copy(update={"recovered": True})
        return None

    # -- commits -----------------------------------------------------------------------

    async def _commit(
        self,
        step: _Step,
        client: ProviderClient,
        state: ResourceState | None,
        config: dict[str, Any] | None,
        prior: ResourceState | None,
        action: Action,
        values: dict[str, dict[str, Any] | None],
    ) -> ApplyResult:
        """Resource state, reference edges, its version, history row and journal: one
        transaction. A refresh marks what it found changed outside intent (or gone)."""
        request = step.request
        type_name = request.resource_type
        before = client.user_view(type_name, prior.attributes) if prior else None
        after = client.user_view(type_name, state.attributes) if state else None
        config_view = redacted_config(client, type_name, config)
        result = ApplyResult(index=step.index, status="applied", action=action, after=after)
        async with self.rt.db.transaction() as session:
            row = await resources.get_resource(session, step.project.id, request.resource_id)
            # What a rollback returns to: the configuration before this operation.
            config_before = row.config if row is not None and action not in _NEW else None
            declared = await resources.declared_dependencies(
                session, step.project.id, request.resource_id
            )
            changes = history_changes(
                client,
                type_name,
                prior.attributes if prior else None,
                state.attributes if state else None,
                action,
                config,
            )
            if action == "gone" and row is not None:
                # Deleted outside intent: kept, marked missing (its config stays), so the
                # user decides: apply it again to re-create it, or delete it from intent.
                row.state = None
                row.state_view = None
                row.private = None
                row.status = "missing"
                row.drift = drift_mark([], deleted=True, change_id=step.change_id, at=utcnow())
                row.last_change_id = step.change_id
            elif state is None:
                if row is not None:
                    await session.delete(row)
                await resources.remove_dependencies(session, step.project.id, request.resource_id)
            else:
                if row is None:
                    row = _new_row(step, client)
                    session.add(row)
                row.config = config or {}
                row.config_view = config_view
                row.state_view = after
                row.state = state.attributes
                row.private = state.private
                row.schema_version = state.schema_version
                row.provider_version = client.installed.version
                row.status = "active"
                row.last_change_id = step.change_id
                await session.flush()
                await resources.replace_reference_edges(
                    session,
                    step.project.id,
                    request.resource_id,
                    references_of(request.model_copy(update={"config": config})),
                )
                if request.depends_on:
                    await resources.add_dependencies(
                        session,
                        step.project.id,
                        request.resource_id,
                        request.depends_on,
                        source="explicit",
                    )
                    declared = sorted({*declared, *request.depends_on})
                # A refresh marks what changed outside intent; an apply makes it true again.
                row.drift = (
                    drift_mark(changes, deleted=False, change_id=step.change_id, at=utcnow())
                    if action == "refresh"
                    else None
                )
            await versions.record_version(
                session,
                project_id=step.project.id,
                resource_id=request.resource_id,
                resource_type=type_name,
                provider=client.installed.address.short,
                provider_version=client.installed.version,
                change_id=step.change_id,
                operation_index=step.index,
                action=action,
                config_before=config_before,
                config_after=(config or {}) if state is not None else None,
                depends_on=declared,
            )
            await self._finish(
                session,
                step,
                result,
                before=before,
                details={
                    "provider": client.installed.address.short,
                    "provider_version": client.installed.version,
                    "config": config_view,
                    "approved_by": step.approved_by,
                    "changes": changes,
                },
            )
        # What later operations of this change refer to.
        if state is None:
            values.pop(request.resource_id, None)
        else:
            values[request.resource_id] = state.attributes
        return result

    async def _commit_failure(
        self,
        step: _Step,
        client: ProviderClient,
        exc: Exception,
        partial: ProviderApplyResult | None,
    ) -> ApplyResult:
        """Keep what the provider returned with its error; record the failure.

        Three outcomes need care, so state never silently disagrees with the cloud:
        a partly created object is kept (``tainted``: the next change replaces it); a
        replacement whose old object could not be deleted keeps the new one and names the
        orphaned old one; a replacement that deleted the old object but created nothing
        leaves the resource ``missing`` (no state), so a retry creates it.
        """
        request, row = step.request, step.row
        diagnostics = error_view(exc)
        type_name = request.resource_type
        deposed = partial.deposed if partial is not None else None
        gone = (
            step.approved_action == "replace"
            and partial is not None
            and partial.action.value == "replace"
            and partial.state is None
            and deposed is None
        )
        if deposed is not None:
            orphan = client.user_view(type_name, deposed.attributes) or {}
            name = orphan.get("id") or orphan.get("arn") or "the old object"
            diagnostics.append(
                DiagnosticView(
                    summary=f"the replacement was created, but the old object ({name}) could "
                    "not be deleted and is no longer managed; delete it by hand, or import "
                    "it under another resource id and delete it",
                )
            )
        result = ApplyResult(
            index=step.index,
            status="failed",
            action=step.approved_action,
            diagnostics=diagnostics,
            after=client.user_view(type_name, partial.state.attributes)
            if partial and partial.state
            else None,
        )
        async with self.rt.db.transaction() as session:
            current = await resources.get_resource(session, step.project.id, request.resource_id)
            if (partial is not None and partial.state is not None) or (gone and current):
                if current is None:
                    current = _new_row(step, client)
                    current.config = desired_config(request, row) or {}
                    session.add(current)
                state = partial.state if partial is not None else None
                current.state = state.attributes if state else None
                current.state_view = result.after
                current.config_view = redacted_config(client, type_name, current.config)
                current.private = state.private if state else None
                current.schema_version = state.schema_version if state else 0
                current.status = (
                    "missing" if state is None else "active" if deposed is not None else "tainted"
                )
                current.last_change_id = step.change_id
            await self._finish(
                session,
                step,
                result,
                details={
                    "diagnostics": [d.model_dump() for d in diagnostics],
                    "partial_state_saved": bool(partial and partial.state),
                    "old_object_deleted_new_not_created": gone,
                    "orphaned_old_object": client.user_view(type_name, deposed.attributes)
                    if deposed
                    else None,
                },
            )
        return result

    async def _refused(self, step: _Step, exc: ProviderRefused) -> ApplyResult:
        """The failure of an operation no provider was called for."""
        result = ApplyResult(
            index=step.index,
            status="failed",
            action=step.approved_action,
            diagnostics=error_view(exc),
        )
        async with self.rt.db.transaction() as session:
            await self._finish(
                session,
                step,
                result,
                details={"diagnostics": [d.model_dump() for d in result.diagnostics]},
            )
        return result

    async def _finish(
        self,
        session: Any,
        step: _Step,
        result: ApplyResult,
        *,
        details: dict[str, Any],
        before: dict[str, Any] | None = None,
    ) -> None:
        """The outcome's history row and journal entry, in the caller's transaction."""
        request = step.request
        await history.record(
            session,
            subject="resource",
            operation=request.kind,
            status=result.status,
            actor=step.actor,
            project_id=step.project.id,
            change_id=step.change_id,
            operation_index=step.index,
            resource_id=request.resource_id,
            resource_type=request.resource_type,
            reasons=[d.summary for d in result.diagnostics if d.severity == "error"],
            before=before,
            after=result.after,
            details={"action": result.action, **details},
            finished_at=utcnow(),
        )
        await journal.finish(
            session, step.change_id, step.index, result.status, result.model_dump(mode="json")
        )

    async def _journal_calling(self, step: _Step) -> None:
        """Mark, durably, that the provider is about to act on the cloud."""
        async with self.rt.db.transaction() as session:
            await journal.mark_calling(session, step.change_id, step.index)
