"""The operations of a change as the plan and apply rooms read them.

The request (configs included) lives in the ``changes`` row and the resources it acts
on in ``resources``; this reads both, finds the provider binding each operation needs,
keys a digest of each request so an apply can refuse one changed since its plan, and
keeps the plans this worker made so the apply that follows reuses them (one refresh
per change).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from activities.planning import invalid, references_of
from activities.runtime import ProviderBinding, implied_provider
from providers.results import PlannedChange, ResourceState
from store import changes as store_changes
from store import resources, versions
from store.models import Resource
from workflows.merge_patch import patch_between
from workflows.models import OperationRequest
from workflows.references import ReferenceError

if TYPE_CHECKING:
    from activities.runtime import Runtime

__all__ = ["Loaded", "Operations", "PlanCache", "PlanMade"]


@dataclass(frozen=True)
class Loaded:
    """What a stage reads before it starts: the change's operations and the part of
    the project's state they touch."""

    requests: list[OperationRequest]
    # The stored rows the operations act on or refer to (not the whole project).
    stored: dict[str, Resource]
    # Every resource id of the project, and the stored dependency edges.
    existing: set[str]
    stored_deps: dict[str, set[str]]
    # Who asked for the change, as the server recorded it.
    requester: str


@dataclass(frozen=True)
class PlanMade:
    """What planning one operation produced, kept for its apply.

    ``change`` for creates, updates, replacements and deletes (its prior is the
    refreshed state); for a refresh or an import ``read`` is set and ``state`` is the
    object as read (None: it is gone).
    ``stored`` is the stored state the plan started from: a different one at apply
    time means something committed in between, and the plan is not reused.
    """

    digest: str
    stored: dict[str, Any] | None
    change: PlannedChange | None = None
    state: ResourceState | None = None
    read: bool = False
    made: float = field(default_factory=time.monotonic)


class PlanCache:
    """Plans made in this worker, by (change id, operation index); bounded and aged.

    A miss (another worker planned, or the plan is too old) only costs a fresh plan.
    """

    def __init__(self, size: int = 4096, max_age: float = 300.0) -> None:
        self.size = size
        self.max_age = max_age
        self._plans: OrderedDict[tuple[str, int], PlanMade] = OrderedDict()

    def put(self, change_id: str, index: int, plan: PlanMade) -> None:
        self._plans[(change_id, index)] = plan
        self._plans.move_to_end((change_id, index))
        while len(self._plans) > self.size:
            self._plans.popitem(last=False)

    def take(
        self, change_id: str, index: int, digest: str, stored: dict[str, Any] | None
    ) -> PlanMade | None:
        """The plan for this request and stored state, if it is still fresh (used once)."""
        plan = self._plans.pop((change_id, index), None)
        if plan is None or plan.digest != digest or plan.stored != stored:
            return None
        if time.monotonic() - plan.made > self.max_age:
            return None
        return plan


class Operations:
    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime
        self.plans = PlanCache(max_age=runtime.settings.plan_reuse_seconds)

    async def load(
        self, change_id: str, project_id: str, indexes: Iterable[int] | None = None
    ) -> Loaded:
        """The change's operations (``indexes`` of them) and the stored rows they touch:
        their own, what their configs refer to, and what they depend on."""
        async with self.rt.db.session() as session:
            change = await store_changes.get_change(session, change_id)
            if change is None:
                raise invalid(f"change {change_id} has no request in the database")
            requests = [OperationRequest.model_validate(r).patched() for r in change.request]
            requests = [await self._restored(session, change.project_id, r) for r in requests]
            if indexes is not None:
                wanted = set(indexes)
                requests = [r for r in requests if r.index in wanted]
            stored_deps: dict[str, set[str]] = {}
            for edge in await resources.edges(session, project_id):
                stored_deps.setdefault(edge.resource_id, set()).add(edge.depends_on)
            touched: set[str] = set()
            for request in requests:
                touched.add(request.resource_id)
                touched |= stored_deps.get(request.resource_id, set())
                with contextlib.suppress(ReferenceError):
                    touched |= references_of(request)
            rows = await resources.get_resources(session, project_id, touched)
            existing = await resources.resource_ids(session, project_id)
        return Loaded(
            requests, {r.resource_id: r for r in rows}, existing, stored_deps, change.actor_name
        )

    async def _restored(
        self, session: Any, project_id: str, request: OperationRequest
    ) -> OperationRequest:
        """A rollback's operation with its config from the recorded version: a create gets
        it whole; an update the merge patch from the config stored now to it."""
        if request.restore is None:
            return request
        version = await versions.get_version(session, request.restore.version_id)
        if version is None or version.project_id != project_id:
            raise invalid(f"{request.resource_id}: the configuration to restore is gone")
        target = version.config_before if request.restore.side == "before" else version.config_after
        if target is None:
            raise invalid(f"{request.resource_id}: that version has no configuration to restore")
        if request.kind == "update":
            row = await resources.get_resource(session, project_id, request.resource_id)
            patch = patch_between(row.config if row is not None else {}, target)
            return request.model_copy(update={"config": patch})
        # Re-created as it was: same provider version, same declared dependencies.
        return request.model_copy(
            update={
                "config": dict(target),
                "provider": request.provider or version.provider,
                "version": request.version or version.provider_version,
                "depends_on": sorted({*request.depends_on, *version.depends_on}),
            }
        )

    async def provider_of(
        self, project_id: str, request: OperationRequest, stored: dict[str, Resource]
    ) -> tuple[str, str | None]:
        """(provider source, version constraint): a stored resource keeps its own."""
        row = stored.get(request.resource_id)
        if row is not None and request.kind != "import":
            return row.provider, request.version or row.provider_version
        source = request.provider or implied_provider(request.resource_type)
        constraint = request.version or await self.rt.pinned_version(project_id, source)
        return source, constraint

    async def bindings(
        self,
        change_id: str,
        loaded: Loaded,
        project_id: str,
        requests: list[OperationRequest],
    ) -> dict[int, ProviderBinding]:
        """Operation index → its provider binding, resolved once per provider. Its cloud
        session is the change's, for the requester the server recorded (not whatever a
        workflow input claims)."""
        by_provider: dict[tuple[str, str | None], ProviderBinding] = {}
        out: dict[int, ProviderBinding] = {}
        for request in requests:
            key = await self.provider_of(project_id, request, loaded.stored)
            if key not in by_provider:
                by_provider[key] = await self.rt.binding(
                    project_id, *key, actor=loaded.requester, change_id=change_id
                )
            out[request.index] = by_provider[key]
        return out

    def digest(self, request: OperationRequest, binding: ProviderBinding) -> str:
        """A keyed digest of what was asked and where it acts: apply refuses a request,
        or a provider target (integration, region, environment), changed since its plan.

        Keyed (HMAC), because configs hold secrets and the digest travels through
        Temporal: a plain hash of a short secret could be guessed back.
        """
        body = json.dumps(
            {"request": request.model_dump(mode="json"), "target": binding.target()},
            sort_keys=True,
            default=str,
        )
        key = self.rt.box.derived_key("request-digest")
        return hmac.new(key, body.encode(), hashlib.sha256).hexdigest()
