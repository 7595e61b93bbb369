"""The plan room: provider discovery and planning of a change's operations.

Configs and states are read from the database; what goes back to the workflow is
redacted by the provider schema, so Temporal never holds a secret.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from temporalio import activity

from activities.drift import meaningful
from activities.operations import Operations
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
    warn_dependents,
    warn_restored,
)
from activities.runtime import ProviderRefused
from providers.errors import ProviderCrashedError, ProviderError, ProviderLaunchError
from providers.install import ProviderInstallError
from store import resources
from store.models import Resource
from workflows.graph import CycleError, GraphOperation, apply_waves
from workflows.models import (
    DiagnosticView,
    DiscoverInput,
    DiscoverResult,
    OperationRequest,
    PlanInput,
    PlannedOperation,
    PlanResult,
)
from workflows.references import ReferenceError

if TYPE_CHECKING:
    from activities.runtime import Runtime

__all__ = ["INFRASTRUCTURE", "PlanActivities"]

# Failures of the machinery, not of the config: the activity is retried.
INFRASTRUCTURE = (ProviderCrashedError, ProviderLaunchError)


class PlanActivities:
    def __init__(self, runtime: Runtime, operations: Operations) -> None:
        self.rt = runtime
        self.ops = operations

    # -- discovery ---------------------------------------------------------------------

    @activity.defn(name="discover_providers")
    async def discover_providers(self, input: DiscoverInput) -> DiscoverResult:
        """Install every provider the change needs and check its resource types exist."""
        requests = await self.ops.requests(input.change_id)
        stored = await self.ops.stored(input.project_id)
        pinned: dict[str, str] = {}
        for request in requests:
            source, constraint = await self.ops.provider_of(input.project_id, request, stored)
            try:
                installed = await self.rt.install_for(input.project_id, source, constraint)
                schema = await self.rt.pool.schema(installed)
            except (ProviderError, ProviderRefused, ProviderInstallError, ValueError) as exc:
                # Install errors name the provider and the fix.
                raise invalid(str(exc)) from exc
            if not schema.has_resource(request.resource_type):
                raise invalid(
                    f"{installed.address.short} {installed.version} has no resource type "
                    f"{request.resource_type!r}; list its types with provider-describe"
                )
            pinned[installed.address.short] = installed.version
        return DiscoverResult(providers=pinned)

    # -- plan --------------------------------------------------------------------------

    @activity.defn(name="plan_operations")
    async def plan_operations(self, input: PlanInput) -> PlanResult:
        requests = await self.ops.requests(input.change_id)
        wanted = set(input.indexes) if input.indexes is not None else {r.index for r in requests}
        requests = [r for r in requests if r.index in wanted]
        project_id = input.project.id
        stored = await self.ops.stored(project_id)
        async with self.rt.db.session() as session:
            edges = await resources.edges(session, project_id)
        stored_deps: dict[str, set[str]] = {}
        for edge in edges:
            stored_deps.setdefault(edge.resource_id, set()).add(edge.depends_on)

        errors: dict[int, list[DiagnosticView]] = {}
        depends: dict[int, list[str]] = {}
        for request in requests:
            try:
                depends[request.index] = depends_on(
                    request, stored_deps, stored.get(request.resource_id)
                )
            except ReferenceError as exc:
                errors[request.index] = [DiagnosticView(summary=str(exc))]
                depends[request.index] = []
        errors.update(check_deletes(requests, stored, stored_deps))
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
                except INFRASTRUCTURE:
                    raise  # a crashed or unlaunchable provider: retry the activity
                except (ProviderError, ReferenceError, ValueError) as exc:
                    errors[index] = error_view(exc)
                    continue
                view = warn_restored(warn_dependents(view, stored_deps, by_index), request)
                planned.append(view.model_copy(update={"request_digest": self.ops.digest(request)}))
                values[request.resource_id] = after
                views[request.resource_id] = view.after
        return PlanResult(operations=planned, waves=waves, errors=errors)

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
        check_existence(request, row, change_id)
        binding = await self.ops.binding(project_id, request, stored)
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
                        action="refresh" if read.state is not None else "gone",
                        before=client.user_view(type_name, prior.attributes),
                        after=client.user_view(type_name, read.state.attributes)
                        if read.state
                        else None,
                        changed=[c.attribute for c in meaningful(read.drift)],
                        diagnostics=diagnostics_view(read.warnings)
                        + gone_warning(request, read.state),
                        depends_on=depends_on,
                    ),
                    read.state.attributes if read.state else None,
                )
            config = desired_config(request, row)
            check_sensitive_references(client.resource_schema(type_name).block, config, views)
            resolved = resolve_config(config, values, deleted)
            change = await client.plan(type_name, prior, resolved)
            view = planned_view(client, request, change, depends_on=depends_on)
            return view, change.planned
