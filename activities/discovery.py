"""The discovery room: list existing cloud objects of a type that the project does not
manage yet, through the provider's listing data source (``providers/listings.py``).

Reads with the project's credentials (its integration must grant read). Only ids,
names and summaries come back; whether another project manages an object is told from
the redacted state views (``id`` is never sensitive), so no sealed value is opened.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from temporalio import activity

from activities.errors import user_error
from activities.planning import error_view
from activities.runtime import ProviderRefused, Runtime
from providers.codec import from_wire, to_user
from providers.errors import ProviderCrashedError, ProviderError, ProviderLaunchError
from providers.install import ProviderInstallError
from providers.listings import listing_for, suggest_resource_id
from providers.schema import UnknownTypeError
from store.models import Project, Resource
from workflows.assertions import ActorAssertionError
from workflows.models import DiscoveredObject, DiscoveryInput, DiscoveryResult

__all__ = ["DiscoveryActivities"]


def _invalid(message: str) -> Exception:
    return user_error(message, "InvalidDiscovery")


class DiscoveryActivities:
    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime

    @activity.defn(name="discover_resources")
    async def discover_resources(self, input: DiscoveryInput) -> DiscoveryResult:
        try:
            asker = self.rt.started_by(input, "discover")
        except ActorAssertionError as exc:
            raise _invalid(f"this discovery was not started by intent ({exc})") from None
        listing = listing_for(input.resource_type)
        if listing is None:
            raise _invalid(f"intent cannot list existing {input.resource_type} objects")
        try:
            source = listing.provider
            binding = await self.rt.binding(
                input.project_id,
                source,
                await self.rt.pinned_version(input.project_id, source),
                actor=asker.name,
            )
            binding.require("read")
        except (ProviderRefused, ProviderInstallError, ValueError) as exc:
            raise _invalid(str(exc)) from exc
        async with self.rt.client(binding, "read") as client:
            try:
                result = await client.read_data_source(
                    listing.data_source, listing.config(input.filters)
                )
            except (ProviderCrashedError, ProviderLaunchError):
                raise  # the machinery: retried
            except (ProviderError, UnknownTypeError) as exc:
                reasons = "; ".join(d.summary for d in error_view(exc))
                raise _invalid(f"listing {input.resource_type} failed: {reasons}") from exc
            schema = client.data_source_schema(listing.data_source)
            state = to_user(from_wire(result.state, schema.implied_type)) if result.state else {}
        found = listing.found(state if isinstance(state, dict) else {})
        prefix = input.filters.get("prefix")
        if prefix:
            found = [
                f for f in found if f.name.startswith(prefix) or f.import_id.startswith(prefix)
            ]

        managers = await self._managers(input.resource_type)
        here = {
            object_id: rid
            for object_id, holders in managers.items()
            for project_id, _, rid in holders
            if project_id == input.project_id
        }
        taken = await self._resource_ids(input.project_id)
        objects: list[DiscoveredObject] = []
        for item in sorted(found, key=lambda f: f.import_id):
            if item.import_id in here:
                continue
            holders = managers.get(item.import_id)
            elsewhere = holders[0] if holders else None
            objects.append(
                DiscoveredObject(
                    import_id=item.import_id,
                    summary=item.summary,
                    suggested_resource_id=suggest_resource_id(item.name, taken),
                    managed_by=f"{elsewhere[1]}/{elsewhere[2]}" if elsewhere else None,
                    managed_by_project_id=elsewhere[0] if elsewhere else None,
                )
            )
        return DiscoveryResult(
            resource_type=input.resource_type,
            data_source=listing.data_source,
            found=objects[: input.limit],
            managed_here=sorted(here.values()),
            more=len(objects) > input.limit,
            note=listing.note,
        )

    async def _managers(self, resource_type: str) -> dict[str, list[tuple[str, str, str]]]:
        """Object id → [(project id, project name, resource id)] for every managed object
        of ``resource_type`` in intent (a listing's import id is the object's id)."""
        async with self.rt.db.session() as session:
            rows = (
                await session.execute(
                    select(
                        Resource.project_id, Project.name, Resource.resource_id, Resource.state_view
                    )
                    .join(Project, Project.id == Resource.project_id)
                    .where(Resource.resource_type == resource_type)
                )
            ).all()
        found: dict[str, list[tuple[str, str, str]]] = {}
        for project_id, project_name, resource_id, view in rows:
            object_id: Any = view.get("id") if isinstance(view, dict) else None
            if isinstance(object_id, str) and object_id:
                holder = (str(project_id), str(project_name), str(resource_id))
                found.setdefault(object_id, []).append(holder)
        return found

    async def _resource_ids(self, project_id: str) -> set[str]:
        async with self.rt.db.session() as session:
            return set(
                (
                    await session.scalars(
                        select(Resource.resource_id).where(Resource.project_id == project_id)
                    )
                ).all()
            )
