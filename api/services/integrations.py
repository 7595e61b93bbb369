"""Cloud integrations: objects in a space, attached to projects with Read / Write.

Who may do what (``access.actions``): ``intent-integration:manage`` creates, changes and
deletes integrations in a space (which roles intent may assume and how);
``intent-integration:attach`` attaches one to a project in that space or below, with
Read; turning Write on needs ``intent-integration:write`` too. Settings that point a
provider at other endpoints need a space admin (the credential-source rule). Like
environment variables, attachments change only while holding the project's lock.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError

from access.credentials import admin_only_settings
from access.models import SpacePath
from access.permissions import ADMIN, is_allowed
from activities.runtime import implied_provider
from api.context import Caller
from api.errors import Conflict, Forbidden, Invalid, NotFound
from api.services.access import load_space, path_of, readable, require
from api.services.environments import editable
from api.services.projects import load_project, located
from integrations.kinds import (
    KINDS,
    IntegrationFacts,
    IntegrationInvalid,
    KindRules,
    check_region,
    kind_of,
    region_conflict,
)
from providers.models import ProviderAddress
from settings import Settings
from store import access as access_store
from store import history
from store import integrations as store
from store import resources as store_resources
from store.models import ROOT_SPACE_ID, Integration, IntegrationAttachment, Project
from workflows.models import OperationRequest

__all__ = [
    "AttachmentList",
    "AttachmentPut",
    "AttachmentView",
    "IntegrationCreate",
    "IntegrationUpdate",
    "IntegrationView",
    "attach",
    "attachable",
    "attachments_of",
    "check_regions",
    "create_integration",
    "delete_integration",
    "detach",
    "get_integration",
    "kind_rules",
    "list_attachments",
    "list_integrations",
    "update_integration",
]

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,199}$"
READ = "intent-integration:read"
MANAGE = "intent-integration:manage"
ATTACH = "intent-integration:attach"
WRITE = "intent-integration:write"

_SETTINGS_HELP = (
    "aws: role_arn (for apply), read_role_arn (optional, for plans and reads), region, "
    "session_seconds (900-43200), endpoint (admins: an AWS-compatible API); intent "
    "generates external_id (rotate_external_id: true on update). static: provider "
    "(e.g. hashicorp/aws) and config (the provider's configuration)."
)


class IntegrationCreate(BaseModel):
    name: str = Field(pattern=NAME_PATTERN)
    kind: Literal["aws", "static"] = "aws"
    space: str | None = Field(
        default=None,
        description="Space (name or id) it lives in; projects there and below may attach it. "
        "Default root.",
    )
    settings: dict[str, Any] = Field(default_factory=dict, description=_SETTINGS_HELP)


class IntegrationUpdate(BaseModel):
    """Only what is given changes; ``settings`` holds only the fields to change."""

    name: str | None = Field(default=None, pattern=NAME_PATTERN)
    settings: dict[str, Any] = Field(default_factory=dict, description=_SETTINGS_HELP)


class IntegrationView(BaseModel):
    id: str
    name: str
    kind: str
    provider: str
    space: str
    settings: dict[str, Any] = Field(
        description="What the kind shows (aws: roles, external id, the trust policy the "
        "roles need); never a credential"
    )
    attached_projects: list[str]
    created_at: datetime
    updated_at: datetime


class AttachmentPut(BaseModel):
    region: str | None = Field(
        default=None, description="Region the project acts in; default the integration's"
    )
    read: bool = Field(default=True, description="Plans, refreshes, imports, data reads")
    write: bool = Field(default=False, description="Applying changes (needs Read to plan)")
    relocate: bool = Field(
        default=False,
        description="Point a project that already manages resources at another account or "
        "region (intent then looks for them there)",
    )


class AttachmentView(BaseModel):
    integration: str
    integration_id: str
    kind: str
    provider: str
    account_id: str | None
    region: str | None
    read: bool
    write: bool
    sandbox: bool = False
    updated_at: datetime


class AttachmentList(BaseModel):
    attached: list[AttachmentView]


def kind_rules(settings: Settings) -> KindRules:
    return KindRules(
        sandbox=settings.sandbox,
        min_session_seconds=settings.aws_min_session_seconds,
        worker_principal=settings.aws_principal_arn,
    )


async def _view(caller: Caller, row: Integration) -> IntegrationView:
    async with caller.db.session() as session:
        projects = await store.attachments_using(session, row.id)
        path = await access_store.path_of(session, row.space_id)
    return IntegrationView(
        id=row.id,
        name=row.name,
        kind=row.kind,
        provider=row.provider,
        space=path[-1].name,
        settings=kind_of(row.kind).shown(row.config, kind_rules(caller.settings)),
        attached_projects=[p.name for p in projects],
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


async def _load(caller: Caller, ref: str) -> tuple[Integration, SpacePath]:
    """The integration ``ref`` names, if the caller may read it (its space or above)."""
    async with caller.db.session() as session:
        row = await store.find_integration(session, ref)
    if row is None:
        raise NotFound(
            f"there is no integration {ref!r}; list them with integration-list or "
            "`intent integrations list`"
        )
    path = await path_of(caller, row.space_id)
    require(caller, READ, path)
    return row, path


def _keep_admin_settings(
    caller: Caller, path: SpacePath, stored: dict[str, Any], config: dict[str, Any]
) -> None:
    """The credential-source rule, for every kind's settings: what only an admin may set
    (endpoints, files, profiles, other roles or accounts, ...) a non-admin may neither
    set, change nor remove."""
    if is_allowed(caller.principal, ADMIN, path):
        return
    before, after = admin_only_settings(stored), admin_only_settings(config)
    touched = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    if touched:
        raise Forbidden(
            f"{', '.join(touched)} on an integration may be set, changed or removed only by a "
            "space admin (intent-space:admin): these make the provider read files or "
            "profiles on the worker host, talk to other endpoints, servers or proxies, use "
            "the host's own credentials, become another role or account, or run programs "
            "(the credential-source rule, docs/security.md)"
        )


def _normalised(
    caller: Caller, kind: str, given: dict[str, Any], previous: dict[str, Any] | None
) -> dict[str, Any]:
    try:
        return kind_of(kind).normalise(given, previous, kind_rules(caller.settings))
    except IntegrationInvalid as exc:
        raise Invalid(str(exc)) from None


async def _record(
    caller: Caller,
    session: Any,
    row: Integration,
    operation: str,
    *,
    project_id: str | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """A history row: on the project for attach/detach, on no project otherwise."""
    await history.record(
        session,
        subject="integration",
        operation=operation,
        status="succeeded",
        actor=caller.actor,
        project_id=project_id,
        resource_id=row.name,
        before=before,
        after=after,
    )


async def list_integrations(caller: Caller, space: str | None = None) -> list[IntegrationView]:
    visible = await readable(caller, READ)
    if space is not None:
        visible &= {(await load_space(caller, space)).id}
    async with caller.db.session() as session:
        rows = await store.list_integrations(session, space_ids=visible)
    return [await _view(caller, row) for row in rows]


async def attachable(caller: Caller, project_ref: str) -> list[IntegrationView]:
    """The integrations the project may attach (its space and above) that the caller sees."""
    _, path = await located(caller, project_ref)
    spaces = {space.id for space in path} & await readable(caller, READ)
    async with caller.db.session() as session:
        rows = await store.list_integrations(session, space_ids=spaces)
    return [await _view(caller, row) for row in rows]


async def get_integration(caller: Caller, ref: str) -> IntegrationView:
    row, _ = await _load(caller, ref)
    return await _view(caller, row)


async def create_integration(caller: Caller, body: IntegrationCreate) -> IntegrationView:
    space = await load_space(caller, body.space or ROOT_SPACE_ID)
    path = await path_of(caller, space.id)
    require(caller, MANAGE, path)
    config = _normalised(caller, body.kind, body.settings, None)
    _keep_admin_settings(caller, path, {}, config)
    try:
        async with caller.db.transaction() as session:
            row = Integration(
                name=body.name,
                space_id=space.id,
                kind=body.kind,
                provider=KINDS[body.kind].provider(config),
                config=config,
                created_by=caller.actor.id,
            )
            session.add(row)
            await session.flush()
            await _record(caller, session, row, "create", after=_history_view(caller, row))
    except IntegrityError:
        raise Conflict(
            f"an integration named {body.name!r} already exists; pick another name"
        ) from None
    return await _view(caller, row)


def _history_view(caller: Caller, row: Integration) -> dict[str, Any]:
    shown = kind_of(row.kind).shown(row.config, kind_rules(caller.settings))
    shown.pop("trust_policy", None)
    return {"name": row.name, "kind": row.kind, "settings": shown}


async def update_integration(caller: Caller, ref: str, body: IntegrationUpdate) -> IntegrationView:
    row, path = await _load(caller, ref)
    require(caller, MANAGE, path)
    if row.config.get("sandbox"):
        raise Invalid("the sandbox integration is intent's own; it cannot be changed")
    config = _normalised(caller, row.kind, body.settings, row.config) if body.settings else None
    if config is not None:
        _keep_admin_settings(caller, path, row.config, config)
    try:
        async with caller.db.transaction() as session:
            current = await session.get(Integration, row.id)
            assert current is not None
            if config is not None:
                current.config = config
            if body.name is not None:
                current.name = body.name
            await session.flush()
            await _record(caller, session, current, "update", after=_history_view(caller, current))
    except IntegrityError:
        raise Conflict(f"an integration named {body.name!r} already exists") from None
    return await _view(caller, current)


async def delete_integration(caller: Caller, ref: str) -> None:
    row, path = await _load(caller, ref)
    require(caller, MANAGE, path)
    _keep_admin_settings(caller, path, row.config, {})
    async with caller.db.transaction() as session:
        projects = await store.attachments_using(session, row.id)
        if projects:
            raise Conflict(
                f"integration {row.name} is attached to {', '.join(p.name for p in projects)}: "
                "detach it from them first (integration-detach)"
            )
        current = await session.get(Integration, row.id)
        if current is not None:
            await _record(caller, session, current, "delete")
            await session.delete(current)


# -- attachments --------------------------------------------------------------------------


def _attachment_view(attachment: IntegrationAttachment, row: Integration) -> AttachmentView:
    facts = store.facts_of((attachment, row))
    return AttachmentView(
        integration=row.name,
        integration_id=row.id,
        kind=row.kind,
        provider=attachment.provider,
        account_id=facts.account_id,
        region=facts.region,
        read=attachment.read,
        write=attachment.write,
        sandbox=bool(row.config.get("sandbox")),
        updated_at=attachment.updated_at,
    )


async def list_attachments(caller: Caller, project_ref: str) -> list[AttachmentView]:
    return await attachments_of(caller, await load_project(caller, project_ref))


async def attachments_of(caller: Caller, project: Project) -> list[AttachmentView]:
    """What a loaded project has attached (the caller may already read it)."""
    async with caller.db.session() as session:
        found = await store.attachments_of(session, project.id)
    return [_attachment_view(a, i) for a, i in found]


async def _attachable(
    caller: Caller, project_ref: str, integration_ref: str
) -> tuple[Project, SpacePath, Integration]:
    project, path = await located(caller, project_ref)
    require(caller, ATTACH, path)
    row, _ = await _load(caller, integration_ref)
    if row.space_id not in {space.id for space in path}:
        where = (await path_of(caller, row.space_id))[-1].name
        raise Invalid(
            f"integration {row.name} lives in space {where}, which is not project "
            f"{project.name}'s space ({path[-1].name}) or above it; an integration serves only "
            "the projects in its own space and below"
        )
    return await editable(caller, project, path), path, row


def _where(facts: IntegrationFacts) -> str:
    return f"account {facts.account_id or '(unknown)'}, region {facts.region or '(default)'}"


async def _refuse_relocation(
    session: Any,
    project: Project,
    was: IntegrationFacts,
    previous: Integration,
    now: store.Attached,
) -> None:
    """A project whose resources live in one account and region is not silently pointed
    at another: its plans would find them gone, and its deletes would forget them."""
    row = now[1]
    will = store.facts_of(now)
    same_account = (previous.id == row.id) or (
        was.account_id is not None and was.account_id == will.account_id
    )
    if same_account and was.region == will.region:
        return
    managed = [
        r
        for r in await store_resources.list_resources(session, project.id)
        if ProviderAddress.parse(r.provider).short == row.provider
    ]
    if not managed:
        return
    raise Conflict(
        f"project {project.name} manages {len(managed)} {row.provider} resource(s) in "
        f"{_where(was)} (integration {previous.name}); attaching {row.name} with "
        f"{_where(will)} would make intent look for them there, where plans would find them "
        "gone and deletes would forget them. Eject or delete them first, or attach with "
        "relocate=true (`--relocate`) if they really are there"
    )


async def attach(
    caller: Caller, project_ref: str, integration_ref: str, body: AttachmentPut
) -> AttachmentView:
    """Attach (or re-attach with other switches or region); one integration per provider:
    it replaces whichever the project used for that provider."""
    project, path, row = await _attachable(caller, project_ref, integration_ref)
    if body.write:
        require(caller, WRITE, path)
    if row.config.get("sandbox") and not caller.settings.sandbox:
        raise Invalid("the sandbox cloud is off on this server (INTENT_SANDBOX=false)")
    try:
        region = None if body.region is None else check_region(body.region)
    except IntegrationInvalid as exc:
        raise Invalid(str(exc)) from None
    async with caller.db.transaction() as session:
        found = await store.attachment_for(session, project.id, row.provider)
        before = None
        was: tuple[IntegrationFacts, Integration] | None = None
        if found is None:
            attachment = IntegrationAttachment(
                project_id=project.id,
                integration_id=row.id,
                provider=row.provider,
                created_by=caller.actor.id,
            )
            session.add(attachment)
        else:
            attachment, previous = found
            was = (store.facts_of(found), previous)
            before = {
                "integration": previous.name,
                "region": attachment.region,
                "read": attachment.read,
                "write": attachment.write,
            }
            attachment.integration_id = row.id
        attachment.region = region
        attachment.read, attachment.write = body.read, body.write
        if was is not None and not body.relocate:
            # Refusing rolls the transaction back: the attachment stays as it was.
            await _refuse_relocation(session, project, *was, (attachment, row))
        await session.flush()
        view = _attachment_view(attachment, row)
        after: dict[str, Any] = {"integration": row.name, "region": view.region}
        after |= {"read": body.read, "write": body.write}
        await _record(
            caller, session, row, "attach", project_id=project.id, before=before, after=after
        )
    return view


async def detach(caller: Caller, project_ref: str, integration_ref: str) -> None:
    project, _, row = await _attachable(caller, project_ref, integration_ref)
    async with caller.db.transaction() as session:
        found = await store.attachment_for(session, project.id, row.provider)
        if found is None or found[1].id != row.id:
            raise NotFound(f"integration {row.name} is not attached to project {project.name}")
        await session.delete(found[0])
        await _record(caller, session, row, "detach", project_id=project.id)


async def check_regions(
    caller: Caller, project: Project, requests: list[OperationRequest], region: str | None
) -> None:
    """Refuse a change that asks for another region than the project's integration acts
    in (``region`` given by the caller, or a ``region`` attribute in a config): it would
    otherwise be created somewhere the user did not ask for."""
    async with caller.db.session() as session:
        found = await store.attachments_of(session, project.id)
    if not found:
        return
    facts = {item[0].provider: store.facts_of(item) for item in found}
    for request in requests:
        source = request.provider or implied_provider(request.resource_type)
        attached = facts.get(ProviderAddress.parse(source).short)
        if attached is None:
            continue
        named = (request.config or {}).get("region")
        for asked in (region, named if isinstance(named, str) else None):
            reason = region_conflict(asked, attached, project.name)
            if reason is not None:
                raise Invalid(f"{request.resource_id}: {reason}")
