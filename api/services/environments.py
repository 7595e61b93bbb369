"""A project's environment variables and integrations (provider configuration).

Both reach only that project's provider processes. Secret values are encrypted at rest
and write-only: listings show them masked, history records only that they changed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from access.credentials import (
    admin_only_settings,
    must_be_secret,
    variable_rule,
)
from access.permissions import ADMIN, is_allowed
from api.context import Caller
from api.errors import Conflict, Forbidden, Invalid, NotFound
from api.services import locks
from api.services.access import require
from api.services.projects import load_project, located
from store import environments as store_env
from store import history
from store.models import Integration, Project
from store.secrets import MASK, SecretBox, mask_credentials

__all__ = [
    "IntegrationPut",
    "IntegrationView",
    "VariablePut",
    "VariableView",
    "delete_integration",
    "delete_variable",
    "list_integrations",
    "list_variables",
    "put_integration",
    "put_variable",
]


class VariablePut(BaseModel):
    value: str = Field(max_length=65536)
    secret: bool = False


class VariableView(BaseModel):
    name: str
    value: str = Field(description=f"{MASK} for secret values (write-only)")
    secret: bool
    updated_at: datetime


class IntegrationPut(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    kind: Literal["static", "sandbox"] = "static"
    config: dict[str, Any] = Field(
        default_factory=dict, description="Provider configuration, e.g. {'region': 'eu-west-1'}"
    )
    read: bool = True
    write: bool = True


class IntegrationView(IntegrationPut):
    provider: str
    updated_at: datetime


ENVIRONMENT = "intent-environment:write"
INTEGRATION = "intent-integration:attach"


async def _editable(caller: Caller, ref: str, action: str) -> Project:
    """Credentials change only with ``action`` and while holding the project's lock
    (a space admin needs no lock)."""
    project, path = await located(caller, ref)
    require(caller, action, path)
    if is_allowed(caller.principal, ADMIN, path):
        return project
    lease = await locks.lease(caller, project)
    if lease.held and lease.holder is not None and lease.holder.id == caller.actor.id:
        return project
    raise Conflict(
        f"changing project {project.name}'s environment or integrations needs its lock: "
        f"call project-use {project.name} first (space admins need none)"
    )


def _view(row: Any) -> VariableView:
    return VariableView(
        name=row.name,
        value=MASK if row.secret else row.value,
        secret=row.secret,
        updated_at=row.updated_at,
    )


async def list_variables(caller: Caller, ref: str) -> list[VariableView]:
    project = await load_project(caller, ref)
    async with caller.db.session() as session:
        return [_view(r) for r in await store_env.list_variables(session, project.id)]


async def put_variable(caller: Caller, ref: str, name: str, body: VariablePut) -> VariableView:
    try:
        rule = variable_rule(name)
    except ValueError as exc:
        raise Invalid(str(exc)) from None
    if rule == "reserved":
        raise Invalid(f"{name} is reserved: it would change how intent runs the provider")
    project, path = await located(caller, ref)
    if rule == "admin" and not is_allowed(caller.principal, ADMIN, path):
        raise Forbidden(
            f"setting {name} needs a space admin (intent-space:admin): project members may "
            "set only plain cloud credentials and regions (the credential-source rule, "
            "docs/security.md); a variable can also point a provider at files, endpoints, "
            "proxies or logs on the worker host"
        )
    project = await _editable(caller, ref, ENVIRONMENT)
    box = SecretBox.from_settings(caller.settings)
    # A credential is sealed whatever the caller asked (the UI's default is plain).
    secret = body.secret or must_be_secret(name)
    async with caller.db.transaction() as session:
        row = await store_env.set_variable(
            session, box, project.id, name, body.value, secret=secret
        )
        await history.record(
            session,
            subject="environment",
            operation="set",
            status="succeeded",
            actor=caller.actor,
            project_id=project.id,
            resource_id=name,
            after={"name": name, "secret": secret, "value": MASK if secret else body.value},
        )
    return _view(row)


async def delete_variable(caller: Caller, ref: str, name: str) -> None:
    _, path = await located(caller, ref)
    admin_set = _rule_of(name) == "admin"
    if admin_set and not is_allowed(caller.principal, ADMIN, path):
        raise Forbidden(
            f"removing {name} needs a space admin (intent-space:admin): only an admin could "
            "set it (the credential-source rule, docs/security.md)"
        )
    project = await _editable(caller, ref, ENVIRONMENT)
    async with caller.db.transaction() as session:
        if not await store_env.delete_variable(session, project.id, name):
            raise NotFound(f"project {project.name} has no environment variable {name}")
        await history.record(
            session,
            subject="environment",
            operation="delete",
            status="succeeded",
            actor=caller.actor,
            project_id=project.id,
            resource_id=name,
        )


def _rule_of(name: str) -> str:
    try:
        return variable_rule(name)
    except ValueError:
        return "admin"


def _keep_admin_settings(stored: dict[str, Any], config: dict[str, Any]) -> None:
    """A member's edit (or removal) of an integration must leave what only an admin may
    set exactly as it is: adding it, dropping an account allow-list or swapping the role
    assumed all widen access."""
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


def _integration_view(row: Integration) -> IntegrationView:
    return IntegrationView(
        provider=row.provider,
        name=row.name,
        kind=row.kind,
        config=mask_credentials(row.config),
        read=row.read,
        write=row.write,
        updated_at=row.updated_at,
    )


async def list_integrations(caller: Caller, ref: str) -> list[IntegrationView]:
    project = await load_project(caller, ref)
    async with caller.db.session() as session:
        return [
            _integration_view(r) for r in await store_env.list_integrations(session, project.id)
        ]


async def put_integration(
    caller: Caller, ref: str, provider: str, body: IntegrationPut
) -> IntegrationView:
    if body.kind == "sandbox" and not caller.settings.sandbox:
        raise Invalid("the sandbox cloud is off on this server (INTENT_SANDBOX=false)")
    _, path = await located(caller, ref)
    project = await _editable(caller, ref, INTEGRATION)
    async with caller.db.transaction() as session:
        row = await store_env.integration_for(session, project.id, provider)
        if not is_allowed(caller.principal, ADMIN, path):
            _keep_admin_settings(row.config if row is not None else {}, body.config)
        if row is None:
            row = Integration(project_id=project.id, provider=provider)
            session.add(row)
        row.name, row.kind, row.config = body.name, body.kind, body.config
        row.read, row.write = body.read, body.write
        await session.flush()
        await history.record(
            session,
            subject="integration",
            operation="attach",
            status="succeeded",
            actor=caller.actor,
            project_id=project.id,
            resource_id=provider,
            after={**body.model_dump(), "config": mask_credentials(body.config)},
        )
        return _integration_view(row)


async def delete_integration(caller: Caller, ref: str, provider: str) -> None:
    project = await _editable(caller, ref, INTEGRATION)
    _, path = await located(caller, ref)
    async with caller.db.transaction() as session:
        row = await store_env.integration_for(session, project.id, provider)
        if row is None:
            raise NotFound(f"project {project.name} has no {provider} integration")
        if not is_allowed(caller.principal, ADMIN, path):
            _keep_admin_settings(row.config, {})
        await session.delete(row)
        await history.record(
            session,
            subject="integration",
            operation="detach",
            status="succeeded",
            actor=caller.actor,
            project_id=project.id,
            resource_id=provider,
        )
