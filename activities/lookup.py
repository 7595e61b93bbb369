"""Activities of ``ProviderLookupWorkflow``: registry search, schema views, data reads."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.errors import user_error
from activities.planning import check_sensitive_references, error_view, resolve_config
from activities.runtime import ProviderRefused, Runtime
from providers import RegistryClient, RegistryError, list_local_providers
from providers.codec import from_wire, to_user
from providers.errors import ProviderCrashedError, ProviderError, ProviderLaunchError
from providers.install import ProviderInstallError, lock_key
from providers.plan import redact
from providers.schema import ProviderSchema, UnknownTypeError
from store import resources
from workflows.actor import Actor
from workflows.assertions import ActorAssertionError
from workflows.models import LookupInput
from workflows.references import ReferenceError

__all__ = ["LookupActivities"]


def _invalid(message: str) -> ApplicationError:
    return user_error(message, "InvalidLookup")


class LookupActivities:
    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime

    def activities(self) -> list[Callable[..., Any]]:
        return [
            self.lookup_search,
            self.lookup_provider,
            self.lookup_resources,
            self.lookup_data_sources,
            self.lookup_read_data,
            self.lookup_lock,
        ]

    def _verify(self, input: LookupInput) -> Actor:
        """Only lookups the server started (and signed) are answered: a lookup started by
        hand on Temporal's port would read data with a project's credentials. Returns
        who asked, as the server vouches."""
        try:
            return self.rt.started_by(input, "lookup")
        except ActorAssertionError as exc:
            raise _invalid(f"this lookup was not started by intent ({exc})") from None

    async def _schema(self, input: LookupInput) -> tuple[str, str, ProviderSchema]:
        if not input.provider:
            raise _invalid("name a provider, e.g. hashicorp/aws")
        source = input.provider
        constraint = input.version
        if constraint is None and input.project_id:
            constraint = await self.rt.pinned_version(input.project_id, source)
        try:
            installed = (
                await self.rt.install_for(input.project_id, source, constraint)
                if input.project_id
                else await self.rt.install(source, constraint)
            )
            schema = await self.rt.pool.schema(installed)
        except (ProviderLaunchError, ProviderCrashedError):
            raise  # the machinery, not the request: retried
        except (ProviderRefused, ProviderInstallError, ProviderError, ValueError) as exc:
            raise _invalid(str(exc)) from exc
        return installed.address.short, installed.version, schema

    @activity.defn(name="lookup_lock")
    async def lookup_lock(self, input: LookupInput) -> dict[str, Any]:
        """What a provider lock entry would record for the package installed now (the
        admin's ``providers lock --update``); writes nothing."""
        self._verify(input)
        if not input.provider:
            raise _invalid("name a provider, e.g. hashicorp/aws")
        try:
            installed = await self.rt.install(input.provider, input.version)
        except (ProviderRefused, ProviderInstallError, ValueError) as exc:
            raise _invalid(str(exc)) from exc
        return {
            "provider": lock_key(installed.address),
            "version": installed.version,
            "hashes": await self.rt.package_hashes(installed),
            "path": str(installed.path),
        }

    @activity.defn(name="lookup_search")
    async def lookup_search(self, input: LookupInput) -> dict[str, Any]:
        """The registry's search; offline (or air-gapped), what the mirrors hold."""
        self._verify(input)
        if not input.query.strip():
            raise _invalid("give a search query, e.g. 'aws' or 's3 bucket'")
        try:
            async with RegistryClient(self.rt.settings) as registry:
                found = await registry.search(input.query, limit=input.limit)
        except RegistryError as exc:
            local = await self._local_matches(input.query, input.limit)
            return {
                "results": local,
                "source": "local mirrors",
                "note": f"the registry could not be searched ({exc}); these providers are "
                "available locally",
            }
        return {
            "results": [r.model_dump(mode="json", exclude_none=True) for r in found],
            "source": "registry",
        }

    async def _local_matches(self, query: str, limit: int) -> list[dict[str, Any]]:
        words = [w for w in query.lower().split() if w]
        seen: dict[str, dict[str, Any]] = {}
        for provider in await list_local_providers(self.rt.settings):
            address = provider.address.short
            if not all(w in address for w in words) and not any(
                w in provider.address.type for w in words
            ):
                continue
            entry = seen.setdefault(address, {"type": "provider", "addr": address, "versions": []})
            if provider.version not in entry["versions"]:
                entry["versions"].append(provider.version)
        return list(seen.values())[:limit]

    @activity.defn(name="lookup_provider")
    async def lookup_provider(self, input: LookupInput) -> dict[str, Any]:
        """The provider's resource and data source type names, filtered and paginated."""
        self._verify(input)
        provider, version, schema = await self._schema(input)
        query = input.query.lower().strip()
        page: dict[str, Any] = {"provider": provider, "version": version}
        for key, names in (
            ("resource_types", schema.resource_types),
            ("data_sources", schema.data_source_types),
        ):
            matching = [n for n in names if query in n]
            if input.cursor:
                matching = [n for n in matching if n > input.cursor]
            page[key] = matching[: input.limit]
            page[f"{key}_total"] = len(matching)
        shown = page["resource_types"] + page["data_sources"]
        more = any(page[f"{k}_total"] > len(page[k]) for k in ("resource_types", "data_sources"))
        # Both lists are sorted: resuming after the largest name shown loses nothing.
        page["next_cursor"] = max(shown) if more and shown else None
        return page

    async def _describe(self, input: LookupInput, kind: str) -> dict[str, Any]:
        provider, version, schema = await self._schema(input)
        if not input.types:
            raise _invalid("name at least one type, e.g. aws_s3_bucket")
        described = []
        for name in input.types[:20]:
            try:
                if kind == "resource":
                    d = schema.describe_resource(name, provider=provider, version=version)
                else:
                    d = schema.describe_data_source(name, provider=provider, version=version)
            except UnknownTypeError as exc:
                raise _invalid(str(exc)) from exc
            described.append(d.model_dump(mode="json", exclude_defaults=True))
        return {"provider": provider, "version": version, "types": described}

    @activity.defn(name="lookup_resources")
    async def lookup_resources(self, input: LookupInput) -> dict[str, Any]:
        self._verify(input)
        return await self._describe(input, "resource")

    @activity.defn(name="lookup_data_sources")
    async def lookup_data_sources(self, input: LookupInput) -> dict[str, Any]:
        self._verify(input)
        return await self._describe(input, "data_source")

    @activity.defn(name="lookup_read_data")
    async def lookup_read_data(self, input: LookupInput) -> dict[str, Any]:
        """Read a data source with the project's credentials (a cloud session named after
        who asked); references resolve to state."""
        asker = self._verify(input)
        if not input.project_id or not input.data_source:
            raise _invalid("a data source read needs a project and a data source type")
        source = input.provider or input.data_source.split("_", 1)[0]
        if "/" not in source:
            source = f"hashicorp/{source}"
        constraint = input.version or await self.rt.pinned_version(input.project_id, source)
        try:
            binding = await self.rt.binding(input.project_id, source, constraint, actor=asker.name)
            binding.require("read")
        except ProviderRefused as exc:
            raise _invalid(str(exc)) from exc
        async with self.rt.db.session() as session:
            stored = await resources.list_resources(session, input.project_id)
        values = {r.resource_id: r.state for r in stored}
        views = {r.resource_id: r.state_view for r in stored}
        try:
            config = resolve_config(input.config or {}, values, set())
        except ReferenceError as exc:
            raise _invalid(str(exc)) from exc
        try:
            async with self.rt.client(binding, "read") as client:
                try:
                    block = client.data_source_schema(input.data_source).block
                    # Data source results are shown: no sensitive value may flow into one.
                    check_sensitive_references(block, input.config, views)
                except UnknownTypeError as exc:
                    raise _invalid(str(exc)) from exc
                except ReferenceError as exc:
                    raise _invalid(str(exc)) from exc
                try:
                    result = await client.read_data_source(input.data_source, config or {})
                except UnknownTypeError as exc:
                    raise _invalid(str(exc)) from exc
                except ProviderError as exc:
                    raise _invalid(
                        "; ".join(
                            d.summary + (f" ({d.attribute})" if d.attribute else "")
                            for d in error_view(exc)
                        )
                    ) from exc
                schema = client.data_source_schema(input.data_source)
                state = result.state
                view = (
                    to_user(redact(schema.block, from_wire(state, schema.implied_type)))
                    if state
                    else None
                )
        except ProviderRefused as exc:  # the read role could not be assumed
            raise _invalid(str(exc)) from exc
        return {
            "provider": client.installed.address.short,
            "version": client.installed.version,
            "data_source": input.data_source,
            "deferred": result.deferred,
            "state": view,
        }
