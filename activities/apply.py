"""The apply room: apply one planned operation, journal it, recover an interrupted one.

``apply_operation`` is idempotent per (change id, operation index) through the apply
journal, and commits the resource's state with its history row in one transaction.
What goes back to the workflow is redacted.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from temporalio import activity

from activities.drift import drift_mark
from activities.heartbeat import heartbeating
from activities.operations import Operations
from activities.plan import INFRASTRUCTURE
from activities.planning import (
    action_of,
    config_from_state,
    desired_config,
    error_view,
    history_changes,
    import_id_candidates,
    invalid,
    redacted_config,
    references_of,
    resolve_config,
    stored_state,
)
from activities.runtime import ProviderBinding, ProviderRefused
from providers.codec import contains_unknown
from providers.errors import ProviderApplyError, ProviderError
from providers.results import ApplyResult as ProviderApplyResult
from providers.results import ResourceState
from store import history, journal, resources, versions
from store.models import Resource
from store.types import utcnow
from workflows.models import Action, ApplyInput, ApplyResult, DiagnosticView, OperationRequest
from workflows.references import ReferenceError

if TYPE_CHECKING:
    from activities.runtime import Runtime
    from providers.client import ProviderClient

__all__ = ["ApplyActivities"]

log = logging.getLogger(__name__)

# Actions after which the resource had no configuration before (nothing to return to).
_NEW = frozenset({"create", "import"})

# Actions a human approved explicitly; a fresh plan may not escalate to them silently.
_CONFIRMED_ACTIONS = {"delete", "replace"}


class ApplyActivities:
    def __init__(self, runtime: Runtime, operations: Operations) -> None:
        self.rt = runtime
        self.ops = operations

    @activity.defn(name="apply_operation")
    async def apply_operation(self, input: ApplyInput) -> ApplyResult:
        journal_result, interrupted = await self._journal_start(input.change_id, input.index)
        if journal_result is not None:
            return journal_result
        request = next(
            r for r in await self.ops.requests(input.change_id) if r.index == input.index
        )
        if input.request_digest and input.request_digest != self.ops.digest(request):
            # Someone changed the stored request after it was planned (and checked and
            # confirmed): applying it now would apply something nobody reviewed.
            raise invalid(
                f"{request.resource_id}: the request changed after it was planned; retry the "
                "change to plan, check and confirm it again"
            )
        project_id = input.project.id
        stored = await self.ops.stored(project_id)
        row = stored.get(request.resource_id)
        binding = await self.ops.binding(project_id, request, stored)
        async with self.rt.client(binding) as client, heartbeating():
            try:
                return await self._apply_one(
                    input, request, row, stored, binding, client, interrupted
                )
            except INFRASTRUCTURE:
                # Like a worker dying: the journal stays "started", so the retried attempt
                # knows it may have reached the cloud (and adopts what it created).
                raise
            except ProviderApplyError as exc:
                partial = exc.result if isinstance(exc.result, ProviderApplyResult) else None
                return await self._commit_failure(input, request, row, client, exc, partial)
            except (ProviderError, ReferenceError, ProviderRefused) as exc:
                return await self._commit_failure(input, request, row, client, exc, None)

    async def _apply_one(
        self,
        input: ApplyInput,
        request: OperationRequest,
        row: Resource | None,
        stored: dict[str, Resource],
        binding: ProviderBinding,
        client: ProviderClient,
        interrupted: bool,
    ) -> ApplyResult:
        type_name = request.resource_type
        binding.require("read" if request.kind in ("import", "refresh") else "write")
        if request.kind == "import":
            assert request.import_id is not None
            imported = await client.import_resource(type_name, request.import_id)
            adopted = request.config or config_from_state(client, type_name, imported.state)
            return await self._commit(
                input, request, client, imported.state, adopted, None, "import"
            )
        prior = stored_state(row) if row is not None else None
        if request.kind == "refresh":
            assert prior is not None and row is not None
            read = await client.read(prior)
            action: Action = "refresh" if read.state is not None else "gone"
            return await self._commit(input, request, client, read.state, row.config, prior, action)

        if request.kind == "create" and interrupted and row is None:
            recovered = await self._recover_create(input, request, client, stored)
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
        values: dict[str, dict[str, Any] | None] = {rid: r.state for rid, r in stored.items()}
        resolved = resolve_config(config, values, deleted)
        if resolved is not None and contains_unknown(resolved):
            raise ProviderError(
                f"{request.resource_id}: a referenced value is still unknown at apply time; "
                "retry once the resources it references are applied"
            )
        change = await client.plan(type_name, prior, resolved)
        action = action_of(change)
        if action in _CONFIRMED_ACTIONS and action != input.approved_action:
            raise ProviderError(
                f"{request.resource_id}: the plan changed from {input.approved_action} to "
                f"{action} since it was approved; retry the change to review it again"
            )
        if action == "no-op":
            state = change.prior
            return await self._commit(input, request, client, state, config, prior, action)
        await self._journal_calling(input)
        result = await client.apply(change, resolved)
        if self.rt.settings.fault_apply_pause_seconds:
            log.warning("failure drill: pausing before committing %s", request.resource_id)
            await asyncio.sleep(self.rt.settings.fault_apply_pause_seconds)
        return await self._commit(input, request, client, result.state, config, prior, action)

    async def _recover_create(
        self,
        input: ApplyInput,
        request: OperationRequest,
        client: ProviderClient,
        stored: dict[str, Resource],
    ) -> ApplyResult | None:
        """An earlier attempt died after reaching the provider: adopt what it created."""
        values: dict[str, dict[str, Any] | None] = {rid: r.state for rid, r in stored.items()}
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
                input.change_id,
                input.index,
                request.resource_type,
                candidate,
            )
            result = await self._commit(
                input, request, client, imported.state, request.config, None, "create"
            )
            return result.model_copy(update={"recovered": True})
        return None

    # -- commits -----------------------------------------------------------------------

    async def _commit(
        self,
        input: ApplyInput,
        request: OperationRequest,
        client: ProviderClient,
        state: ResourceState | None,
        config: dict[str, Any] | None,
        prior: ResourceState | None,
        action: Action,
    ) -> ApplyResult:
        """Resource state, reference edges, its version, history row and journal: one
        transaction. A refresh marks what it found changed outside intent (or gone)."""
        type_name = request.resource_type
        before = client.user_view(type_name, prior.attributes) if prior else None
        after = client.user_view(type_name, state.attributes) if state else None
        result = ApplyResult(index=input.index, status="applied", action=action, after=after)
        async with self.rt.db.transaction() as session:
            row = await resources.get_resource(session, input.project.id, request.resource_id)
            # What a rollback returns to: the configuration before this operation.
            config_before = row.config if row is not None and action not in _NEW else None
            declared = await resources.declared_dependencies(
                session, input.project.id, request.resource_id
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
                row.drift = drift_mark([], deleted=True, change_id=input.change_id, at=utcnow())
                row.last_change_id = input.change_id
            elif state is None:
                if row is not None:
                    await session.delete(row)
                await resources.remove_dependencies(session, input.project.id, request.resource_id)
            else:
                if row is None:
                    row = Resource(
                        project_id=input.project.id,
                        resource_id=request.resource_id,
                        resource_type=type_name,
                        provider=client.installed.address.short,
                        provider_version=client.installed.version,
                    )
                    session.add(row)
                row.config = config or {}
                row.config_view = redacted_config(client, type_name, config)
                row.state_view = after
                row.state = state.attributes
                row.private = state.private
                row.schema_version = state.schema_version
                row.provider_version = client.installed.version
                row.status = "active"
                row.last_change_id = input.change_id
                await session.flush()
                await resources.replace_reference_edges(
                    session,
                    input.project.id,
                    request.resource_id,
                    references_of(request.model_copy(update={"config": config})),
                )
                if request.depends_on:
                    await resources.add_dependencies(
                        session,
                        input.project.id,
                        request.resource_id,
                        request.depends_on,
                        source="explicit",
                    )
                    declared = sorted({*declared, *request.depends_on})
                # A refresh marks what changed outside intent; an apply makes it true again.
                row.drift = (
                    drift_mark(changes, deleted=False, change_id=input.change_id, at=utcnow())
                    if action == "refresh"
                    else None
                )
            await versions.record_version(
                session,
                project_id=input.project.id,
                resource_id=request.resource_id,
                resource_type=type_name,
                provider=client.installed.address.short,
                provider_version=client.installed.version,
                change_id=input.change_id,
                operation_index=input.index,
                action=action,
                config_before=config_before,
                config_after=(config or {}) if state is not None else None,
                depends_on=declared,
            )
            await self._finish(
                session,
                input,
                request,
                result,
                before=before,
                details={
                    "provider": client.installed.address.short,
                    "provider_version": client.installed.version,
                    "config": redacted_config(client, type_name, config),
                    "approved_by": input.approved_by,
                    "changes": changes,
                },
            )
        return result

    async def _commit_failure(
        self,
        input: ApplyInput,
        request: OperationRequest,
        row: Resource | None,
        client: ProviderClient,
        exc: Exception,
        partial: ProviderApplyResult | None,
    ) -> ApplyResult:
        """Keep what the provider returned with its error; record the failure.

        Three outcomes need care, so state never silently disagrees with the cloud:
        a partly created object is kept (``tainted``: a retry plans from it); a
        replacement whose old object could not be deleted keeps the new one and names the
        orphaned old one; a replacement that deleted the old object but created nothing
        leaves the resource ``missing`` (no state), so a retry creates it.
        """
        diagnostics = error_view(exc)
        type_name = request.resource_type
        deposed = partial.deposed if partial is not None else None
        gone = (
            input.approved_action == "replace"
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
            index=input.index,
            status="failed",
            action=input.approved_action,
            diagnostics=diagnostics,
            after=client.user_view(type_name, partial.state.attributes)
            if partial and partial.state
            else None,
        )
        async with self.rt.db.transaction() as session:
            current = await resources.get_resource(session, input.project.id, request.resource_id)
            if (partial is not None and partial.state is not None) or (gone and current):
                if current is None:
                    current = Resource(
                        project_id=input.project.id,
                        resource_id=request.resource_id,
                        resource_type=type_name,
                        provider=client.installed.address.short,
                        provider_version=client.installed.version,
                        config=desired_config(request, row) or {},
                    )
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
                current.last_change_id = input.change_id
            await self._finish(
                session,
                input,
                request,
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

    async def _finish(
        self,
        session: Any,
        input: ApplyInput,
        request: OperationRequest,
        result: ApplyResult,
        *,
        details: dict[str, Any],
        before: dict[str, Any] | None = None,
    ) -> None:
        """The outcome's history row and journal entry, in the caller's transaction."""
        await history.record(
            session,
            subject="resource",
            operation=request.kind,
            status=result.status,
            actor=input.actor,
            project_id=input.project.id,
            change_id=input.change_id,
            operation_index=input.index,
            resource_id=request.resource_id,
            resource_type=request.resource_type,
            reasons=[d.summary for d in result.diagnostics if d.severity == "error"],
            before=before,
            after=result.after,
            details={"action": result.action, **details},
            finished_at=utcnow(),
        )
        await journal.finish(
            session, input.change_id, input.index, result.status, result.model_dump(mode="json")
        )

    async def _journal_start(self, change_id: str, index: int) -> tuple[ApplyResult | None, bool]:
        """(recorded result, interrupted): a finished attempt's result is returned as is."""
        async with self.rt.db.transaction() as session:
            recorded, interrupted = await journal.start(session, change_id, index)
        return (ApplyResult.model_validate(recorded) if recorded is not None else None), interrupted

    async def _journal_calling(self, input: ApplyInput) -> None:
        """Mark, durably, that the provider is about to act on the cloud."""
        async with self.rt.db.transaction() as session:
            await journal.mark_calling(session, input.change_id, input.index)
