"""Activities of ``ChangeWorkflow``: lease, discovery, plan, policy, apply, history.

Configs and states are read from and written to the database here; what goes back to
the workflow is redacted. ``apply_operation`` is idempotent per (change id, operation
index) through the apply journal, and commits the resource's state with its history
row in one transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from temporalio import activity
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from activities.errors import user_error
from activities.planning import (
    action_of,
    check_sensitive_references,
    diagnostics_view,
    error_view,
    import_id_candidates,
    merge_patch,
    planned_view,
    redacted_config,
    references_of,
    resolve_config,
    stored_state,
)
from activities.policies import PolicyEvaluator
from activities.runtime import ProviderBinding, ProviderRefused, Runtime, implied_provider
from providers.client import ProviderClient
from providers.codec import contains_unknown
from providers.errors import (
    ProviderApplyError,
    ProviderCrashedError,
    ProviderError,
    ProviderLaunchError,
)
from providers.install import ProviderInstallError
from providers.results import ApplyResult as ProviderApplyResult
from providers.results import ResourceState
from store import changes as store_changes
from store import history, resources
from store.models import ApplyJournal, Resource
from store.types import utcnow
from workflows.graph import CycleError, GraphOperation, apply_waves
from workflows.lock import (
    LOCK_NOT_HELD,
    AcquireRequest,
    Holder,
    ProjectLockWorkflow,
    RenewRequest,
    lock_workflow_id,
)
from workflows.models import (
    Action,
    ApplyInput,
    ApplyResult,
    CheckLeaseInput,
    DiagnosticView,
    DiscoverInput,
    DiscoverResult,
    OperationRequest,
    PlanInput,
    PlannedOperation,
    PlanResult,
    PolicyCheckInput,
    PolicyVerdictView,
    RecordInput,
    UpdateChangeInput,
)
from workflows.references import ReferenceError

__all__ = ["ChangeActivities"]

log = logging.getLogger(__name__)

# Failures of the machinery, not of the config: the activity is retried.
_INFRASTRUCTURE = (ProviderCrashedError, ProviderLaunchError)

# Actions a human approved explicitly; a fresh plan may not escalate to them silently.
_CONFIRMED_ACTIONS = {"delete", "replace"}


def _invalid(message: str) -> ApplicationError:
    return user_error(message, "InvalidChange")


class ChangeActivities:
    def __init__(self, runtime: Runtime, policies: PolicyEvaluator) -> None:
        self.rt = runtime
        self.policies = policies

    # -- lease -------------------------------------------------------------------------

    @activity.defn(name="check_lease")
    async def check_lease(self, input: CheckLeaseInput) -> None:
        """The requester must hold the project's lock: renew it, or take it if it is free
        (a long review or a retry days later), never from someone else."""
        await self._check_requester(input)
        handle = self.rt.temporal.get_workflow_handle_for(
            ProjectLockWorkflow.run, lock_workflow_id(input.project.id)
        )
        holder = Holder(id=input.actor.id, name=input.actor.name, via=input.actor.via)

        def signed(update: str) -> str:
            return self.rt.signer.sign(input.actor, workflow_id=handle.id, update=update)

        try:
            await handle.execute_update(
                ProjectLockWorkflow.renew, RenewRequest(holder=holder, assertion=signed("renew"))
            )
            return
        except WorkflowUpdateFailedError as exc:
            if getattr(exc.cause, "type", None) != LOCK_NOT_HELD:
                raise self._lease_error(input, exc) from exc
        except RPCError as exc:
            if "not found" not in str(exc).lower():
                raise
            raise user_error(
                f"{input.actor.name} does not hold the lock of project "
                f"{input.project.name}; call project-use first",
                "LeaseNotHeld",
            ) from exc
        try:
            await handle.execute_update(
                ProjectLockWorkflow.acquire,
                AcquireRequest(holder=holder, assertion=signed("acquire")),
            )
        except WorkflowUpdateFailedError as exc:
            raise self._lease_error(input, exc) from exc

    async def _check_requester(self, input: CheckLeaseInput) -> None:
        """The workflow's requester must be the one intent recorded for this change.

        A change is started by the server after it wrote the change's row; a workflow
        started by hand on Temporal's port with a made-up actor finds no matching row and
        acts for nobody (its lease would be taken in someone else's name)."""
        async with self.rt.db.session() as session:
            change = await store_changes.get_change(session, input.change_id)
        if (
            change is None
            or change.actor_id != input.actor.id
            or change.project_id != input.project.id
        ):
            raise user_error(
                f"change {input.change_id} was not requested through intent by "
                f"{input.actor.name} for project {input.project.name}; refusing to act on it",
                "LeaseNotHeld",
            )

    @staticmethod
    def _lease_error(input: CheckLeaseInput, exc: WorkflowUpdateFailedError) -> ApplicationError:
        message = getattr(exc.cause, "message", None) or str(exc)
        return user_error(f"{message} (change {input.change_id})", "LeaseNotHeld")

    # -- discovery ---------------------------------------------------------------------

    @activity.defn(name="discover_providers")
    async def discover_providers(self, input: DiscoverInput) -> DiscoverResult:
        """Install every provider the change needs and check its resource types exist."""
        requests = await self._requests(input.change_id)
        stored = await self._stored(input.project_id)
        pinned: dict[str, str] = {}
        for request in requests:
            source, constraint = await self._provider_of(input.project_id, request, stored)
            try:
                installed = await self.rt.install_for(input.project_id, source, constraint)
                schema = await self.rt.pool.schema(installed)
            except (ProviderError, ProviderRefused, ProviderInstallError, ValueError) as exc:
                # Install errors name the provider and the fix.
                raise _invalid(str(exc)) from exc
            if not schema.has_resource(request.resource_type):
                raise _invalid(
                    f"{installed.address.short} {installed.version} has no resource type "
                    f"{request.resource_type!r}; list its types with provider-describe"
                )
            pinned[installed.address.short] = installed.version
        return DiscoverResult(providers=pinned)

    # -- plan --------------------------------------------------------------------------

    @activity.defn(name="plan_operations")
    async def plan_operations(self, input: PlanInput) -> PlanResult:
        requests = await self._requests(input.change_id)
        wanted = set(input.indexes) if input.indexes is not None else {r.index for r in requests}
        requests = [r for r in requests if r.index in wanted]
        project_id = input.project.id
        stored = await self._stored(project_id)
        async with self.rt.db.session() as session:
            edges = await resources.edges(session, project_id)
        stored_deps: dict[str, set[str]] = {}
        for edge in edges:
            stored_deps.setdefault(edge.resource_id, set()).add(edge.depends_on)

        errors: dict[int, list[DiagnosticView]] = {}
        depends: dict[int, list[str]] = {}
        for request in requests:
            try:
                depends[request.index] = self._depends_on(
                    request, stored_deps, stored.get(request.resource_id)
                )
            except ReferenceError as exc:
                errors[request.index] = [DiagnosticView(summary=str(exc))]
                depends[request.index] = []
        errors.update(self._check_deletes(requests, stored, stored_deps))
        try:
            waves = apply_waves(
                [
                    GraphOperation(
                        index=r.index,
                        resource_id=r.resource_id,
                        kind=r.kind,
                        depends_on=frozenset(depends[r.index]),
                    )
                    for r in requests
                ]
            )
        except CycleError as exc:
            return PlanResult(
                operations=[],
                errors={r.index: [DiagnosticView(summary=str(exc))] for r in requests},
            )

        by_index = {r.index: r for r in requests}
        deleted = {r.resource_id for r in requests if r.kind == "delete"}
        values: dict[str, dict[str, Any] | None] = {
            rid: row.state for rid, row in stored.items() if rid not in deleted
        }
        # Redacted views of the same resources: where a referenced value is sensitive.
        views: dict[str, dict[str, Any] | None] = {
            rid: row.state_view for rid, row in stored.items() if rid not in deleted
        }
        planned: list[PlannedOperation] = []
        # Plan in apply order, so a reference sees its target's planned values.
        for wave in waves:
            for index in wave:
                request = by_index[index]
                if index in errors:
                    continue
                activity.heartbeat(index)
                try:
                    view, after = await self._plan_one(
                        input.change_id,
                        project_id,
                        request,
                        stored,
                        values,
                        views,
                        deleted,
                        depends[index],
                    )
                except _INFRASTRUCTURE:
                    raise  # a crashed or unlaunchable provider: retry the activity
                except (ProviderError, ReferenceError, ValueError) as exc:
                    errors[index] = error_view(exc)
                    continue
                view = self._warn_dependents(view, stored_deps, by_index)
                planned.append(view.model_copy(update={"request_digest": self._digest(request)}))
                values[request.resource_id] = after
                views[request.resource_id] = view.after
        return PlanResult(operations=planned, waves=waves, errors=errors)

    @staticmethod
    def _warn_dependents(
        view: PlannedOperation,
        stored_deps: dict[str, set[str]],
        in_change: dict[int, OperationRequest],
    ) -> PlannedOperation:
        """A replacement gets a new identity: resources referring to it (and not part of
        this change) keep the old values until they are applied again. Say so."""
        if view.action != "replace":
            return view
        changing = {r.resource_id for r in in_change.values()}
        users = sorted(
            rid
            for rid, deps in stored_deps.items()
            if view.resource_id in deps and rid not in changing
        )
        if not users:
            return view
        warning = DiagnosticView(
            severity="warning",
            summary=f"{', '.join(users)} refer(s) to {view.resource_id}, which is replaced: "
            "update them afterwards (an update with an empty config re-plans them) so they "
            "point at the new object",
        )
        return view.model_copy(update={"diagnostics": [*view.diagnostics, warning]})

    def _digest(self, request: OperationRequest) -> str:
        """A keyed digest of what was asked: apply refuses a request changed since its plan.

        Keyed (HMAC), because configs hold secrets and the digest travels through
        Temporal: a plain hash of a short secret could be guessed back.
        """
        body = json.dumps(request.model_dump(mode="json"), sort_keys=True, default=str)
        key = self.rt.box.derived_key("request-digest")
        return hmac.new(key, body.encode(), hashlib.sha256).hexdigest()

    async def _plan_one(
        self,
        change_id: str,
        project_id: str,
        request: OperationRequest,
        stored: dict[str, Resource],
        values: dict[str, dict[str, Any] | None],
        views: dict[str, dict[str, Any] | None],
        deleted: set[str],
        depends_on: list[str],
    ) -> tuple[PlannedOperation, dict[str, Any] | None]:
        row = stored.get(request.resource_id)
        self._check_existence(request, row, change_id)
        binding = await self._binding(project_id, request, stored)
        binding.require("read")
        async with self.rt.client(binding) as client:
            type_name = request.resource_type
            if request.kind == "import":
                assert request.import_id is not None
                imported = await client.import_resource(type_name, request.import_id)
                state = imported.state
                return (
                    PlannedOperation(
                        index=request.index,
                        kind="import",
                        resource_id=request.resource_id,
                        resource_type=type_name,
                        provider=client.installed.address.short,
                        provider_version=client.installed.version,
                        action="import",
                        after=client.user_view(type_name, state.attributes),
                        depends_on=depends_on,
                        diagnostics=diagnostics_view(imported.warnings),
                    ),
                    state.attributes,
                )
            prior = stored_state(row) if row is not None else None
            if request.kind == "refresh":
                assert prior is not None
                read = await client.read(prior)
                return (
                    PlannedOperation(
                        index=request.index,
                        kind="refresh",
                        resource_id=request.resource_id,
                        resource_type=type_name,
                        provider=client.installed.address.short,
                        provider_version=client.installed.version,
                        action="refresh" if read.state is not None else "forget",
                        before=client.user_view(type_name, prior.attributes),
                        after=client.user_view(type_name, read.state.attributes)
                        if read.state
                        else None,
                        changed=[c.attribute for c in read.drift],
                        depends_on=depends_on,
                        diagnostics=diagnostics_view(read.warnings),
                    ),
                    read.state.attributes if read.state else None,
                )
            config = self._desired_config(request, row)
            check_sensitive_references(client.resource_schema(type_name).block, config, views)
            resolved = resolve_config(config, values, deleted)
            change = await client.plan(type_name, prior, resolved)
            view = planned_view(client, request, change, depends_on=depends_on)
            return view, change.planned

    # -- policy ------------------------------------------------------------------------

    @activity.defn(name="evaluate_policies")
    async def evaluate_policies(self, input: PolicyCheckInput) -> list[PolicyVerdictView]:
        return await self.policies.evaluate(input)

    # -- apply -------------------------------------------------------------------------

    @activity.defn(name="apply_operation")
    async def apply_operation(self, input: ApplyInput) -> ApplyResult:
        journal, interrupted = await self._journal_start(input.change_id, input.index)
        if journal is not None:
            return journal
        request = next(r for r in await self._requests(input.change_id) if r.index == input.index)
        if input.request_digest and input.request_digest != self._digest(request):
            # Someone changed the stored request after it was planned (and checked and
            # confirmed): applying it now would apply something nobody reviewed.
            raise user_error(
                f"{request.resource_id}: the request changed after it was planned; retry the "
                "change to plan, check and confirm it again",
                "InvalidChange",
            )
        project_id = input.project.id
        stored = await self._stored(project_id)
        row = stored.get(request.resource_id)
        binding = await self._binding(project_id, request, stored)
        async with self.rt.client(binding) as client, self._heartbeating():
            try:
                return await self._apply_one(
                    input, request, row, stored, binding, client, interrupted
                )
            except _INFRASTRUCTURE:
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
            adopted = request.config or self._config_from_state(client, type_name, imported.state)
            return await self._commit(
                input, request, client, imported.state, adopted, None, "import"
            )
        prior = stored_state(row) if row is not None else None
        if request.kind == "refresh":
            assert prior is not None and row is not None
            read = await client.read(prior)
            action: Action = "refresh" if read.state is not None else "forget"
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
        config = self._desired_config(request, row)
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
        """Resource state, reference edges, history row and journal: one transaction."""
        type_name = request.resource_type
        before = client.user_view(type_name, prior.attributes) if prior else None
        after = client.user_view(type_name, state.attributes) if state else None
        result = ApplyResult(index=input.index, status="applied", action=action, after=after)
        async with self.rt.db.transaction() as session:
            row = await resources.get_resource(session, input.project.id, request.resource_id)
            if state is None:
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
                        config=self._desired_config(request, row) or {},
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
        await self._journal_finish(session, input, result)

    async def _journal_start(self, change_id: str, index: int) -> tuple[ApplyResult | None, bool]:
        """(recorded result, interrupted): a finished attempt's result is returned as is."""
        async with self.rt.db.transaction() as session:
            entry = await session.get(ApplyJournal, (change_id, index), with_for_update=True)
            if entry is None:
                session.add(
                    ApplyJournal(change_id=change_id, operation_index=index, status="started")
                )
                return None, False
            if entry.status == "applied":
                return ApplyResult.model_validate(entry.result), False
            # "calling": an earlier attempt died after asking the provider to act, so the
            # cloud may have changed; "started": it died before; "failed": a retry.
            interrupted = entry.status == "calling"
            entry.status = "started"
            entry.attempts += 1
            entry.started_at = utcnow()
            entry.finished_at = None
            return None, interrupted

    async def _journal_calling(self, input: ApplyInput) -> None:
        """Mark, durably, that the provider is about to act on the cloud."""
        async with self.rt.db.transaction() as session:
            entry = await session.get(ApplyJournal, (input.change_id, input.index))
            if entry is not None:
                entry.status = "calling"

    async def _journal_finish(self, session: Any, input: ApplyInput, result: ApplyResult) -> None:
        entry = await session.get(ApplyJournal, (input.change_id, input.index))
        if entry is None:
            entry = ApplyJournal(change_id=input.change_id, operation_index=input.index)
            session.add(entry)
        entry.status = result.status
        entry.result = result.model_dump(mode="json")
        entry.finished_at = utcnow()

    # -- bookkeeping -------------------------------------------------------------------

    @activity.defn(name="record_history")
    async def record_history(self, input: RecordInput) -> None:
        async with self.rt.db.transaction() as session:
            for row in input.rows:
                await history.record(
                    session,
                    subject="resource",
                    operation=row.operation,
                    status=row.status,
                    actor=input.actor,
                    project_id=input.project_id,
                    change_id=input.change_id,
                    operation_index=row.index,
                    resource_id=row.resource_id,
                    resource_type=row.resource_type,
                    reasons=row.reasons,
                    before=row.before,
                    after=row.after,
                    details=row.details,
                )

    @activity.defn(name="update_change")
    async def update_change(self, input: UpdateChangeInput) -> None:
        async with self.rt.db.transaction() as session:
            await store_changes.set_status(
                session, input.change_id, input.status, input.summary, final=input.final
            )

    # -- helpers -----------------------------------------------------------------------

    async def _requests(self, change_id: str) -> list[OperationRequest]:
        async with self.rt.db.session() as session:
            change = await store_changes.get_change(session, change_id)
        if change is None:
            raise _invalid(f"change {change_id} has no request in the database")
        return [OperationRequest.model_validate(r) for r in change.request]

    async def _stored(self, project_id: str) -> dict[str, Resource]:
        async with self.rt.db.session() as session:
            rows = await resources.list_resources(session, project_id)
        return {r.resource_id: r for r in rows}

    async def _provider_of(
        self, project_id: str, request: OperationRequest, stored: dict[str, Resource]
    ) -> tuple[str, str | None]:
        row = stored.get(request.resource_id)
        if row is not None and request.kind != "import":
            return row.provider, request.version or row.provider_version
        source = request.provider or implied_provider(request.resource_type)
        constraint = request.version or await self.rt.pinned_version(project_id, source)
        return source, constraint

    async def _binding(
        self, project_id: str, request: OperationRequest, stored: dict[str, Resource]
    ) -> ProviderBinding:
        source, constraint = await self._provider_of(project_id, request, stored)
        return await self.rt.binding(project_id, source, constraint)

    def _depends_on(
        self,
        request: OperationRequest,
        stored_deps: dict[str, set[str]],
        row: Resource | None = None,
    ) -> list[str]:
        deps = set(request.depends_on)
        if request.kind == "create":
            deps |= references_of(request)
        if request.kind == "update":
            # The whole config after the patch, not just the patch: an untouched
            # reference still orders this update after its target.
            merged = self._desired_config(request, row) if row is not None else request.config
            deps |= references_of(request.model_copy(update={"config": merged}))
            deps |= stored_deps.get(request.resource_id, set())
        if request.kind in ("delete", "refresh"):
            deps |= stored_deps.get(request.resource_id, set())
        deps.discard(request.resource_id)
        return sorted(deps)

    def _check_deletes(
        self,
        requests: list[OperationRequest],
        stored: dict[str, Resource],
        stored_deps: dict[str, set[str]],
    ) -> dict[int, list[DiagnosticView]]:
        """Refuse deleting what something that stays still references."""
        deleted = {r.resource_id for r in requests if r.kind == "delete"}
        errors: dict[int, list[DiagnosticView]] = {}
        for request in requests:
            if request.kind != "delete":
                continue
            users = sorted(
                rid
                for rid, deps in stored_deps.items()
                if request.resource_id in deps and rid not in deleted and rid in stored
            )
            if users:
                errors[request.index] = [
                    DiagnosticView(
                        summary=f"deleting {request.resource_id} is refused: "
                        f"{', '.join(users)} still depend(s) on it; delete them in the same "
                        "change or remove the reference/dependency first"
                    )
                ]
        return errors

    def _check_existence(
        self, request: OperationRequest, row: Resource | None, change_id: str
    ) -> None:
        if (
            request.kind == "create"
            and row is not None
            and row.last_change_id == change_id
            and row.status in ("tainted", "missing")
        ):
            return  # a retry of this change's own create that got partway: plan from there
        if request.kind in ("create", "import") and row is not None:
            raise ValueError(
                f"{request.resource_id} already exists in this project (a "
                f"{row.resource_type}); update it, or pick another resource id"
            )
        if request.kind in ("update", "delete", "refresh") and row is None:
            raise ValueError(
                f"{request.resource_id} is not in this project's state; list resources "
                "with state-list"
            )
        if (
            request.kind in ("update", "delete", "refresh")
            and row is not None
            and row.resource_type != request.resource_type
        ):
            raise ValueError(
                f"{request.resource_id} is a {row.resource_type}, not a {request.resource_type}"
            )

    def _desired_config(
        self, request: OperationRequest, row: Resource | None
    ) -> dict[str, Any] | None:
        if request.kind == "delete":
            return None
        if request.kind == "update":
            assert row is not None
            return merge_patch(row.config, request.config or {})
        return request.config or {}

    def _config_from_state(
        self, client: ProviderClient, type_name: str, state: ResourceState
    ) -> dict[str, Any]:
        """A config for an imported object, as Terraform's config generation makes one.

        Every user-settable attribute with a value (optional+computed ones too, so
        "exactly one of" rules hold and the next plan is a no-op), except ``id``,
        deprecated and write-only attributes, and empty optional values (the legacy
        SDK treats them as unset). Nested blocks are left to the user.
        """
        block = client.resource_schema(type_name).block
        view = client.user_view(type_name, state.attributes, redact_sensitive=False) or {}
        config: dict[str, Any] = {}
        for name, attr in block.attributes.items():
            value = view.get(name)
            if name == "id" or not attr.configurable or attr.write_only or attr.deprecated:
                continue
            if value is None or (not attr.required and value in ("", {}, [])):
                continue
            config[name] = value
        return config

    @contextlib.asynccontextmanager
    async def _heartbeating(self) -> AsyncIterator[None]:
        """Heartbeat while a provider call runs, so a dead worker is noticed quickly."""

        async def beat() -> None:
            while True:
                activity.heartbeat()
                await asyncio.sleep(2)

        task = asyncio.create_task(beat())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
