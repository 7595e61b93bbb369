"""Provider questions (registry search, schema views, data source reads).

Answered by the worker through ``ProviderLookupWorkflow``: the server never launches a
provider or calls the registry itself.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from api.context import Caller
from api.errors import Forbidden, Invalid
from api.services.access import check_local_files, require
from api.services.changes import current_project, require_lease
from api.services.projects import load_project, project_path
from api.services.worker import ask
from providers import trust
from providers.models import ProviderAddress
from providers.versions import VersionConstraintError, VersionConstraints
from store import history, provider_locks
from workflows.lookup import LookupInput, ProviderLookupWorkflow

__all__ = [
    "ProviderLockView",
    "check_lookup",
    "list_provider_locks",
    "lookup",
    "read_data_source",
    "update_provider_lock",
]


# Resource, data source and type names: Terraform identifiers.
_TYPE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,127}$")


def check_lookup(caller: Caller, input: LookupInput) -> None:
    """Refuse a malformed or disallowed lookup here, before any workflow starts.

    Each refusal names the fix; the worker is never asked to resolve what the server
    can already tell is wrong (it would cost a workflow and a provider resolve each)."""
    if input.kind == "search" and not input.query.strip():
        raise Invalid("give a search query, e.g. 'aws' or 's3 bucket'")
    if input.kind in ("provider", "resources", "data_sources") and not input.provider:
        raise Invalid("name a provider, e.g. hashicorp/aws")
    if input.provider:
        try:
            address = ProviderAddress.parse(input.provider)
        except ValueError as exc:
            raise Invalid(str(exc)) from None
        reason = trust.refusal(address, caller.settings)
        if reason:
            raise Forbidden(reason)
    if input.version:
        try:
            VersionConstraints.parse(input.version)
        except VersionConstraintError as exc:
            raise Invalid(str(exc)) from None
    names = [*input.types, *([input.data_source] if input.data_source else [])]
    bad = [n for n in names if not _TYPE_NAME.match(n)]
    if bad:
        raise Invalid(
            f"{', '.join(repr(n[:80]) for n in bad[:3])} is not a resource or data source type "
            "name (lower-case letters, digits and underscores, like aws_s3_bucket)"
        )


async def lookup(caller: Caller, input: LookupInput) -> dict[str, Any]:
    check_lookup(caller, input)
    answer: dict[str, Any] = await ask(
        caller,
        ProviderLookupWorkflow.run,
        input,
        kind=f"lookup {input.kind}",
        update="lookup",
        summary=f"{input.kind} {input.provider or input.query}",
        project_id=input.project_id,
    )
    return answer


# -- provider locks ------------------------------------------------------------------------


class ProviderLockView(BaseModel):
    provider: str
    version: str
    hashes: list[str]
    recorded_by: str
    updated_at: datetime


def _lock_view(row: Any) -> ProviderLockView:
    return ProviderLockView(
        provider=row.provider,
        version=row.version,
        hashes=list(row.hashes),
        recorded_by=row.recorded_by,
        updated_at=row.updated_at,
    )


async def list_provider_locks(caller: Caller, ref: str) -> list[ProviderLockView]:
    """The project's provider lock: which packages (by hash) its changes may run."""
    project = await load_project(caller, ref)
    async with caller.db.session() as session:
        return [_lock_view(r) for r in await provider_locks.list_locks(session, project.id)]


async def update_provider_lock(
    caller: Caller, ref: str, provider: str, version: str | None = None
) -> ProviderLockView:
    """Re-record a provider's lock entry from the package the worker installs now.

    It decides which binary runs with the project's credentials, so it needs
    intent-provider:lock (space admins). The old and new hashes go to history."""
    project = await load_project(caller, ref, "intent-provider:lock")
    found = await lookup(
        caller,
        LookupInput(kind="lock", project_id=project.id, provider=provider, version=version),
    )
    async with caller.db.transaction() as session:
        before = await provider_locks.get_lock(session, project.id, found["provider"])
        old = {"version": before.version, "hashes": list(before.hashes)} if before else None
        row = await provider_locks.put_lock(
            session,
            project_id=project.id,
            provider=found["provider"],
            version=found["version"],
            hashes=found["hashes"],
            recorded_by=caller.actor.name,
        )
        await history.record(
            session,
            subject="provider-lock",
            operation="update",
            status="succeeded",
            actor=caller.actor,
            project_id=project.id,
            resource_id=found["provider"],
            before=old,
            after={"version": row.version, "hashes": list(row.hashes)},
        )
        return _lock_view(row)


async def read_data_source(
    caller: Caller,
    project_ref: str | None,
    data_source: str,
    *,
    provider: str | None = None,
    version: str | None = None,
    config: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Read a data source with a project's credentials: only its lock holder may, and
    only with intent-datasource:read there."""
    project = await current_project(caller, project_ref)
    path = await project_path(caller, project)
    require(caller, "intent-datasource:read", path)
    check_local_files(caller, path, [(data_source, config)])
    await require_lease(caller, project)
    return await lookup(
        caller,
        LookupInput(
            kind="read_data",
            project_id=project.id,
            data_source=data_source,
            provider=provider,
            version=version,
            config=config or {},
        ),
    )
