"""A project's environment variables (integrations: ``api.services.integrations``).

They reach only that project's provider processes. Secret values are encrypted at rest
and write-only: listings show them masked, history records only that they changed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from access.credentials import must_be_secret, variable_rule
from access.models import SpacePath
from access.permissions import ADMIN, is_allowed
from api.context import Caller
from api.errors import Conflict, Forbidden, Invalid, NotFound
from api.services import locks
from api.services.access import require
from api.services.projects import load_project, located
from store import environments as store_env
from store import history
from store.models import Project
from store.secrets import MASK, SecretBox

__all__ = [
    "VariablePut",
    "VariableView",
    "delete_variable",
    "editable",
    "list_variables",
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


ENVIRONMENT = "intent-environment:write"


async def editable(caller: Caller, project: Project, path: SpacePath) -> Project:
    """Credentials (variables, integrations) change only while holding the project's
    lock; a space admin needs none. The caller's action is checked before."""
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
    require(caller, ENVIRONMENT, path)
    project = await editable(caller, project, path)
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
    project, path = await located(caller, ref)
    admin_set = _rule_of(name) == "admin"
    if admin_set and not is_allowed(caller.principal, ADMIN, path):
        raise Forbidden(
            f"removing {name} needs a space admin (intent-space:admin): only an admin could "
            "set it (the credential-source rule, docs/security.md)"
        )
    require(caller, ENVIRONMENT, path)
    project = await editable(caller, project, path)
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
