"""The operations of a change as the plan and apply rooms read them.

The request (configs included) lives in the ``changes`` row and the resources it acts
on in ``resources``; this reads both, finds the provider binding each operation needs,
and keys a digest of each request so an apply can refuse one changed since its plan.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import TYPE_CHECKING, Any

from activities.planning import invalid
from activities.runtime import ProviderBinding, implied_provider
from store import changes as store_changes
from store import resources, versions
from store.models import Resource
from workflows.merge_patch import patch_between
from workflows.models import OperationRequest

if TYPE_CHECKING:
    from activities.runtime import Runtime

__all__ = ["Operations"]


class Operations:
    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime

    async def requests(self, change_id: str) -> list[OperationRequest]:
        async with self.rt.db.session() as session:
            change = await store_changes.get_change(session, change_id)
            if change is None:
                raise invalid(f"change {change_id} has no request in the database")
            requests = [OperationRequest.model_validate(r).patched() for r in change.request]
            return [await self._restored(session, change.project_id, r) for r in requests]

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

    async def stored(self, project_id: str) -> dict[str, Resource]:
        async with self.rt.db.session() as session:
            rows = await resources.list_resources(session, project_id)
        return {r.resource_id: r for r in rows}

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

    async def binding(
        self, project_id: str, request: OperationRequest, stored: dict[str, Resource]
    ) -> ProviderBinding:
        source, constraint = await self.provider_of(project_id, request, stored)
        return await self.rt.binding(project_id, source, constraint)

    def digest(self, request: OperationRequest) -> str:
        """A keyed digest of what was asked: apply refuses a request changed since its plan.

        Keyed (HMAC), because configs hold secrets and the digest travels through
        Temporal: a plain hash of a short secret could be guessed back.
        """
        body = json.dumps(request.model_dump(mode="json"), sort_keys=True, default=str)
        key = self.rt.box.derived_key("request-digest")
        return hmac.new(key, body.encode(), hashlib.sha256).hexdigest()
