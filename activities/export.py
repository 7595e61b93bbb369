"""The export room: gather a project's configs, states, schemas and locks, and write it
as a Terraform configuration (``export/``), sealed for the server that asked.

Runs in the worker: configs and states are sealed at rest and only the worker opens
them. Each resource's import id is checked with the provider (an import of that id must
find the very object intent manages), so the import blocks work as written.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from temporalio import activity

from activities.errors import user_error
from activities.runtime import ProviderRefused, Runtime
from export import ExportProvider, ExportResource, build_files, lineage_of, seal_files
from integrations.kinds import kind_of
from providers.errors import ProviderError
from providers.install import ProviderInstallError
from providers.models import PUBLIC_REGISTRY_HOSTS, ProviderAddress
from providers.schema import ProviderSchema
from store import integrations as store_integrations
from store import provider_locks, resources
from store.models import Change, Operation, Resource
from store.secrets import without_credentials
from workflows.actor import Actor
from workflows.assertions import ActorAssertionError
from workflows.models import ExportInput, ExportResult

__all__ = ["ExportActivities"]

# Import ids are checked a few at a time: each check reads the object from the cloud.
_VERIFY_CONCURRENCY = 8


@dataclass(frozen=True)
class _Provider:
    source: str
    version: str
    schema: ProviderSchema


class ExportActivities:
    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime

    @activity.defn(name="export_project")
    async def export_project(self, input: ExportInput) -> ExportResult:
        try:
            asker = self.rt.started_by(input, "export")
        except ActorAssertionError as exc:
            raise user_error(
                f"this export was not started by intent ({exc})", "InvalidExport"
            ) from None
        async with self.rt.db.session() as session:
            rows = await resources.list_resources(session, input.project_id)
            edges = await resources.edges(session, input.project_id)
            locks = {
                lock.provider: lock
                for lock in await provider_locks.list_locks(session, input.project_id)
            }
            integrations = {
                attachment.provider: (attachment, row)
                for attachment, row in await store_integrations.attachments_of(
                    session, input.project_id
                )
            }
            serial = await _serial(session, input.project_id)
            recorded_ids = await _recorded_import_ids(session, input.project_id)
        providers: dict[str, _Provider] = {}
        for row in rows:
            if row.provider not in providers:
                providers[row.provider] = await self._provider(input.project_id, row)
        explicit: dict[str, list[str]] = {}
        every: dict[str, list[str]] = {}
        for edge in edges:
            every.setdefault(edge.resource_id, []).append(edge.depends_on)
            if edge.source == "explicit":
                explicit.setdefault(edge.resource_id, []).append(edge.depends_on)

        gate = asyncio.Semaphore(_VERIFY_CONCURRENCY)

        async def one(row: Resource) -> ExportResource:
            async with gate:
                activity.heartbeat(row.resource_id)
                import_id, verified, note = await self._import_id(
                    input, asker, row, recorded_ids.get(row.resource_id)
                )
            return ExportResource(
                resource_id=row.resource_id,
                type=row.resource_type,
                provider=row.provider,
                config=row.config or {},
                schema=providers[row.provider].schema.resource(row.resource_type),
                state=row.state,
                private=row.private,
                schema_version=row.schema_version,
                depends_on=explicit.get(row.resource_id, []),
                dependencies=every.get(row.resource_id, []),
                import_id=import_id,
                import_verified=verified,
                import_note=note,
            )

        exported = list(await asyncio.gather(*(one(r) for r in rows)))
        built = build_files(
            project=input.project_name,
            providers=[self._export_provider(p, locks, integrations) for p in providers.values()],
            resources=exported,
            include_secrets=input.include_secrets,
            lineage=lineage_of(input.project_id),
            serial=serial,
        )
        return ExportResult(
            sealed_files=seal_files(self.rt.box, built.files),
            files=sorted(built.files),
            resources=[r.address for r in exported],
            in_state=built.in_state,
            not_in_state=built.not_in_state,
            unverified_imports=built.unverified_imports,
            variables=built.variables,
        )

    async def _provider(self, project_id: str, row: Resource) -> _Provider:
        try:
            installed = await self.rt.install_for(project_id, row.provider, row.provider_version)
            schema = await self.rt.pool.schema(installed)
        except (ProviderRefused, ProviderInstallError, ProviderError, ValueError) as exc:
            raise user_error(f"cannot export {row.resource_id}: {exc}", "InvalidExport") from exc
        return _Provider(row.provider, installed.version, schema)

    def _provider_settings(
        self, short: str, integrations: dict[str, store_integrations.Attached]
    ) -> tuple[dict[str, Any], list[str]]:
        """The provider block's settings as the project's integration sets them, without
        any credential (those are the team's to supply), and what the reader should know."""
        found = integrations.get(short)
        if found is None:
            return {}, []
        row = found[1]
        # A sandbox project exports its settings even from a server with the sandbox off.
        setup = store_integrations.shown_setup_of(found, self.rt.settings.sandbox_endpoint)
        config = without_credentials(dict(setup.config))
        if row.config.get("sandbox"):
            return config, [
                f"{short}: this project ran on intent's sandbox cloud (a local moto server, "
                "not AWS): point AWS_ENDPOINT_URL at it with any credentials, or replace "
                "these settings with your account's"
            ]
        if kind_of(row.kind).supplies_credentials:
            return config, [
                f"{short}: intent acted through integration {row.name} (a role it assumed "
                "per change); give Terraform credentials for the same account, for example "
                "an assume_role block with that role"
            ]
        return config, []

    def _export_provider(
        self,
        provider: _Provider,
        locks: dict[str, Any],
        integrations: dict[str, store_integrations.Attached],
    ) -> ExportProvider:
        address = ProviderAddress.parse(provider.source)
        public = address.hostname in PUBLIC_REGISTRY_HOSTS
        # Terraform's registry for the public providers; the lock names them the same way.
        full = f"registry.terraform.io/{address.short}" if public else str(address)
        lock = next(
            (
                lock
                for key, lock in locks.items()
                if key.endswith(f"/{address.short}") and (public or key == str(address))
            ),
            None,
        )
        hashes = list(lock.hashes) if lock is not None and lock.version == provider.version else []
        config, notes = self._provider_settings(address.short, integrations)
        return ExportProvider(
            source=address.short if public else str(address),
            address=full,
            version=provider.version,
            hashes=hashes,
            config=config,
            block=provider.schema.provider.block,
            notes=notes,
        )

    async def _import_id(
        self, input: ExportInput, asker: Actor, row: Resource, recorded: str | None
    ) -> tuple[str | None, bool, str]:
        """(import id, verified, note): the first candidate the provider imports as the
        object intent manages (same ``id``)."""
        state = row.state or {}
        managed_id = state.get("id")
        candidates = _unique([recorded, managed_id if isinstance(managed_id, str) else None])
        if not candidates:
            return None, False, "its state has no id to import it by"
        if not input.verify_imports:
            return candidates[0], False, "import ids were not checked (verify_imports off)"
        try:
            binding = await self.rt.binding(
                input.project_id, row.provider, row.provider_version, actor=asker.name
            )
            binding.require("read")
        except (ProviderRefused, ProviderInstallError, ValueError) as exc:
            return candidates[0], False, f"could not ask the provider: {exc}"
        problems: list[str] = []
        async with self.rt.client(binding, "read") as client:
            for candidate in candidates:
                try:
                    imported = await client.import_resource(row.resource_type, candidate)
                except ProviderError as exc:
                    problems.append(f"{candidate!r}: {exc}")
                    continue
                found = imported.states[0].attributes.get("id") if imported.states else None
                if found == managed_id:
                    return candidate, True, ""
                problems.append(f"{candidate!r} imports another object ({found!r})")
        return None, False, "the provider did not import it by " + "; ".join(problems)


def _unique(values: Sequence[str | None]) -> list[str]:
    out: list[str] = []
    for v in values:
        if v and v not in out:
            out.append(v)
    return out


async def _serial(session: Any, project_id: str) -> int:
    """The state's serial: one more than the resource operations intent has applied, so
    a later export of the same project always has a higher one."""
    count = await session.scalar(
        select(func.count())
        .select_from(Operation)
        .where(
            Operation.project_id == project_id,
            Operation.subject == "resource",
            Operation.status == "applied",
        )
    )
    return int(count or 0) + 1


async def _recorded_import_ids(session: Any, project_id: str) -> dict[str, str]:
    """The id each imported resource was imported by (the latest import wins)."""
    rows = await session.scalars(
        select(Change)
        .where(Change.project_id == project_id, Change.status == "applied")
        .order_by(Change.created_at)
    )
    found: dict[str, str] = {}
    for change in rows.all():
        for op in change.request:
            if op.get("kind") == "import" and op.get("import_id"):
                found[str(op["resource_id"])] = str(op["import_id"])
            elif op.get("kind") in ("create", "delete"):
                found.pop(str(op.get("resource_id")), None)
    return found
