"""The plan room: the plan stage of a change, in one activity.

The stage checks the requester's lease, installs the providers the change needs
(first round), plans every operation as a sliding window over the dependency order
(reads, refreshes and plans of independent operations run at once, at most
``window`` at a time; an operation that refers to another waits for its plan), and
evaluates the attached policies. Configs and states are read from the database;
what goes back to the workflow is redacted by the provider schema, so Temporal never
holds a secret. Each plan is kept in this worker for the apply that follows.
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from temporalio import activity

from activities.drift import meaningful
from activities.heartbeat import heartbeating
from activities.lease import LeaseActivities
from activities.operations import Loaded, Operations, PlanMade
from activities.planning import (
    check_deletes,
    check_existence,
    check_sensitive_references,
    depends_on,
    desired_config,
    diagnostics_view,
    error_view,
    gone_warning,
    invalid,
    planned_view,
    resolve_config,
    stored_state,
    taint_reason,
    warn_dependents,
    warn_restored,
)
from activities.policies import PolicyEvaluator
from activities.runtime import ProviderBinding, ProviderRefused
from activities.window import run_window
from observability.metrics import WorkerMetrics
from providers.errors import ProviderCrashedError, ProviderError, ProviderLaunchError
from providers.install import ProviderInstallError
from store.models import Resource
from workflows.graph import CycleError, GraphOperation, predecessors
from workflows.models import (
    CheckLeaseInput,
    DiagnosticView,
    OperationRequest,
    PlanInput,
    PlannedOperation,
    PlanResult,
    PolicyCheckInput,
)
from workflows.references import ReferenceError

if TYPE_CHECKING:
    from activities.runtime import Runtime

__all__ = ["INFRASTRUCTURE", "PlanActivities"]

# Failures of the machinery, not of the config: the activity is retried.
INFRASTRUCTURE = (ProviderCrashedError, ProviderLaunchError)


class _Planning:
    """One plan stage's shared state: what is stored, and what has been planned so far."""

    def __init__(self, input: PlanInput, loaded: Loaded) -> None:
        self.input = input
        self.loaded = loaded
        self.by_index = {r.index: r for r in loaded.requests}
        self.stored = loaded.stored
        self.existing = loaded.existing
        self.stored_deps = loaded.stored_deps
        stored = loaded.stored
        self.deleted = {r.resource_id for r in loaded.requests if r.kind == "delete"}
        # Wire values of the resources, as planned so far: references resolve here.
        self.values: dict[str, dict[str, Any] | None] = {
            rid: row.state for rid, row in stored.items() if rid not in self.deleted
        }
        # Their redacted views: where a referenced value is sensitive.
        self.views: dict[str, dict[str, Any] | None] = {
            rid: row.state_view for rid, row in stored.items() if rid not in self.deleted
        }
        self.depends: dict[int, list[str]] = {}
        self.errors: dict[int, list[DiagnosticView]] = {}
        self.planned: dict[int, PlannedOperation] = {}


class PlanActivities:
    def __init__(
        self,
        runtime: Runtime,
        operations: Operations,
        lease: LeaseActivities,
        policies: PolicyEvaluator,
    ) -> None:
        self.rt = runtime
        self.ops = operations
        self.lease = lease
        self.policies = policies

    @activity.defn(name="plan_change")
    async def plan_change(self, input: PlanInput) -> PlanResult:
        lease = input.lease or CheckLeaseInput(
            project=input.project, actor=input.actor, change_id=input.change_id
        )
        # Who asked comes first (a change nobody requested reads and installs nothing);
        # then the lease (a Temporal round trip) and the preparation, both at once. The
        # lease's refusal wins over anything the preparation found.
        await self.lease.check_requester(lease)
        held, prepared = await asyncio.gather(
            self.lease.hold(lease), self._prepare(input), return_exceptions=True
        )
        for failure in (held, prepared):
            if isinstance(failure, BaseException):
                raise failure
        assert isinstance(prepared, tuple)
        state, bindings = prepared
        requests = list(state.by_index.values())
        order = self._order(state, requests)
        if order is None:
            return PlanResult(operations=[], errors=state.errors)
        async with heartbeating():
            outcomes = await run_window(
                order, input.window, lambda i: self._plan_one(state, i, bindings.get(i))
            )
        for index, outcome in outcomes.items():
            if outcome == "blocked" and index not in state.errors:
                waited = [state.by_index[j].resource_id for j in order[index]]
                state.errors[index] = [
                    DiagnosticView(
                        summary=f"not planned: what it refers to ({', '.join(waited)}) could "
                        "not be planned"
                    )
                ]
        planned = [state.planned[i] for i in sorted(state.planned)]
        if state.errors:
            return PlanResult(operations=planned, errors=state.errors)
        started = time.monotonic()
        verdicts = await self.policies.evaluate(
            PolicyCheckInput(
                change_id=input.change_id,
                project=input.project,
                actor=input.actor,
                operations=planned,
                timestamp_ns=input.timestamp_ns,
            )
        )
        policy_check = WorkerMetrics(activity.metric_meter()).latency("evaluate_policies")
        if policy_check is not None:
            policy_check.record(timedelta(seconds=time.monotonic() - started), {"outcome": "ok"})
        return PlanResult(operations=planned, verdicts=verdicts)

    async def _prepare(self, input: PlanInput) -> tuple[_Planning, dict[int, ProviderBinding]]:
        """The operations and the rows they touch, their providers installed (first round)
        and bound to the project."""
        state = _Planning(
            input, await self.ops.load(input.change_id, input.project.id, input.indexes)
        )
        requests = list(state.by_index.values())
        if input.discover:
            await self._discover(input.project.id, requests, state.stored)
        return state, await self._bindings(state, requests)

    # -- discovery ---------------------------------------------------------------------

    async def _discover(
        self, project_id: str, requests: list[OperationRequest], stored: dict[str, Resource]
    ) -> None:
        """Install every provider the change needs (once each) and check its types exist."""
        schemas: dict[tuple[str, str | None], Any] = {}
        for request in requests:
            key = await self.ops.provider_of(project_id, request, stored)
            if key not in schemas:
                try:
                    installed = await self.rt.install_for(project_id, *key)
                    schemas[key] = (installed, await self.rt.pool.schema(installed))
                except (ProviderError, ProviderRefused, ProviderInstallError, ValueError) as exc:
                    # Install errors name the provider and the fix.
                    raise invalid(str(exc)) from exc
            installed, schema = schemas[key]
            if not schema.has_resource(request.resource_type):
                raise invalid(
                    f"{installed.address.short} {installed.version} has no resource type "
                    f"{request.resource_type!r}; list its types with provider-describe"
                )

    # -- order and bindings ------------------------------------------------------------

    def _order(
        self, state: _Planning, requests: list[OperationRequest]
    ) -> dict[int, frozenset[int]] | None:
        """What each operation's plan waits for: the plans of what it refers to.

        Deletes resolve nothing, so they plan at once. None when the order is a cycle
        (every operation then carries the error).
        """
        for request in requests:
            try:
                state.depends[request.index] = depends_on(
                    request, state.stored_deps, state.stored.get(request.resource_id)
                )
            except ReferenceError as exc:
                state.errors[request.index] = [DiagnosticView(summary=str(exc))]
                state.depends[request.index] = []
        state.errors.update(check_deletes(requests, state.existing, state.stored_deps))
        try:
            order = predecessors(
                [
                    GraphOperation(
                        index=r.index,
                        resource_id=r.resource_id,
                        kind=r.kind,
                        depends_on=frozenset(state.depends[r.index]),
                    )
                    for r in requests
                ]
            )
        except CycleError as exc:
            state.errors = {r.index: [DiagnosticView(summary=str(exc))] for r in requests}
            return None
        return {
            i: frozenset() if state.by_index[i].kind == "delete" else before
            for i, before in order.items()
        }

    async def _bindings(
        self, state: _Planning, requests: list[OperationRequest]
    ) -> dict[int, ProviderBinding]:
        """The provider binding of each operation; a refused one is that operation's error."""
        try:
            return await self.ops.bindings(
                state.input.change_id, state.loaded, state.input.project.id, requests
            )
        except ProviderRefused as exc:
            for request in requests:
                state.errors[request.index] = error_view(exc)
            return {}

    # -- one operation -----------------------------------------------------------------

    async def _plan_one(
        self, state: _Planning, index: int, binding: ProviderBinding | None
    ) -> bool:
        """Plan one operation into ``state``; False when it could not be planned."""
        request = state.by_index[index]
        if index in state.errors or binding is None:
            return False
        try:
            view, after, made = await self._plan(state, request, binding)
        except INFRASTRUCTURE:
            raise  # a crashed or unlaunchable provider: retry the activity
        except (ProviderError, ReferenceError, ValueError) as exc:
            state.errors[index] = error_view(exc)
            return False
        digest = self.ops.digest(request, binding)
        view = warn_restored(warn_dependents(view, state.stored_deps, state.by_index), request)
        state.planned[index] = view.model_copy(update={"request_digest": digest})
        state.values[request.resource_id] = after
        state.views[request.resource_id] = view.after
        row = state.stored.get(request.resource_id)
        self.ops.plans.put(
            state.input.change_id,
            index,
            PlanMade(
                digest=digest,
                stored=row.state if row is not None else None,
                change=made.change,
                state=made.state,
                read=made.read,
            ),
        )
        return True

    async def _plan(
        self, state: _Planning, request: OperationRequest, binding: ProviderBinding
    ) -> tuple[PlannedOperation, dict[str, Any] | None, PlanMade]:
        row = state.stored.get(request.resource_id)
        check_existence(request, row, state.input.change_id)
        depends = state.depends[request.index]
        async with self.rt.client(binding, "read") as client:
            type_name = request.resource_type
            provider, version = client.installed.address.short, client.installed.version
            if request.kind == "import":
                assert request.import_id is not None
                imported = await client.import_resource(type_name, request.import_id)
                state_read = imported.state
                return (
                    PlannedOperation(
                        index=request.index,
                        kind="import",
                        resource_id=request.resource_id,
                        resource_type=type_name,
                        provider=provider,
                        provider_version=version,
                        action="import",
                        after=client.user_view(type_name, state_read.attributes),
                        depends_on=depends,
                        diagnostics=diagnostics_view(imported.warnings),
                    ),
                    state_read.attributes,
                    PlanMade(digest="", stored=None, state=state_read, read=True),
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
                        provider=provider,
                        provider_version=version,
                        action="refresh" if read.state is not None else "gone",
                        before=client.user_view(type_name, prior.attributes),
                        after=client.user_view(type_name, read.state.attributes)
                        if read.state
                        else None,
                        changed=[c.attribute for c in meaningful(read.drift)],
                        depends_on=depends,
                        diagnostics=diagnostics_view(read.warnings)
                        + gone_warning(request, read.state),
                    ),
                    read.state.attributes if read.state else None,
                    PlanMade(digest="", stored=None, state=read.state, read=True),
                )
            config = desired_config(request, row)
            check_sensitive_references(client.resource_schema(type_name).block, config, state.views)
            resolved = resolve_config(config, state.values, state.deleted)
            tainted = taint_reason(row)
            change = await client.plan(
                type_name, prior, resolved, force_replace=tainted is not None
            )
            view = planned_view(client, request, change, depends_on=depends)
            if tainted is not None and view.action == "replace":
                view = view.model_copy(update={"replace_reason": tainted})
            return view, change.planned, PlanMade(digest="", stored=None, change=change)
