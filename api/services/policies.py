"""Intent policies: create/update (validated at once), attach/detach, samples, simulate.

Policy writing is separated from resource changes: policies live in a space, govern
the projects there and below, and are managed with the intent-policy:* actions (role
policy-author), which carry no resource actions. Every policy change lands in history
with its actor and a diff of what changed.
"""

from __future__ import annotations

import asyncio
import difflib
import functools
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from access.models import SpacePath
from api.context import Caller
from api.errors import Conflict, Forbidden, Invalid, NotFound
from api.services.access import load_space, path_of, readable, require, require_in
from api.services.projects import load_project, located
from policies.engine import evaluate_policy, validate_policy
from policies.input import PolicyInput, PolicyInputSchema, input_schema
from policies.models import PolicyProblem
from store import access as access_store
from store import history
from store import policies as store_policies
from store.models import ROOT_SPACE_ID, Policy, PolicyAttachment, Project

__all__ = [
    "PolicyCreate",
    "PolicyInputSchema",
    "PolicyList",
    "PolicySummary",
    "PolicyUpdate",
    "PolicyView",
    "SampleView",
    "SimulateRequest",
    "SimulationResult",
    "attach",
    "create_policy",
    "delete_policy",
    "detach",
    "get_policy",
    "input_schema",
    "list_policies",
    "list_samples",
    "simulate",
    "update_policy",
]

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,199}$"
RegoVersion = Literal["v1", "v0"]


class PolicyCreate(BaseModel):
    name: str = Field(pattern=NAME_PATTERN)
    body: str = Field(min_length=1, max_length=200_000, description="Rego, package spacelift")
    description: str = Field(default="", max_length=2000)
    labels: list[str] = Field(
        default_factory=list,
        description="autoattach:<label> attaches to projects with that label (* for all)",
    )
    rego_version: RegoVersion = "v1"
    space: str | None = Field(
        default=None,
        description="Space (name or id) it lives in; it governs projects there and below. "
        "Default root.",
    )


class PolicyUpdate(BaseModel):
    """Only the fields given change."""

    body: str | None = Field(default=None, min_length=1, max_length=200_000)
    description: str | None = Field(default=None, max_length=2000)
    labels: list[str] | None = None
    rego_version: RegoVersion | None = None
    name: str | None = Field(default=None, pattern=NAME_PATTERN)


class PolicySummary(BaseModel):
    id: str
    name: str
    space: str = Field(description="The space it lives in (it governs projects there and below)")
    description: str
    labels: list[str]
    rego_version: str
    attached_projects: list[str] = Field(description="Explicit attachments (project names)")
    updated_at: datetime


class PolicyView(PolicySummary):
    body: str
    created_at: datetime
    warnings: list[PolicyProblem] = Field(default_factory=list)


class PolicyList(BaseModel):
    policies: list[PolicySummary]
    next_cursor: str | None = None


class SampleView(BaseModel):
    id: str
    created_at: datetime
    project_id: str | None
    change_id: str | None
    input: dict[str, Any]
    result: dict[str, Any]


class SimulateRequest(BaseModel):
    body: str | None = Field(
        default=None, description="Rego to try; default the stored policy's body"
    )
    input: dict[str, Any] | None = Field(default=None, description="A policy input to use")
    sample_id: str | None = Field(default=None, description="Or: a kept sample's input")
    rego_version: RegoVersion | None = None


class SimulationResult(BaseModel):
    decision: Literal["allowed", "denied", "pending"]
    deny: list[str]
    allow: list[str]
    prints: list[str]
    sample: bool
    error: str | None
    duration_ms: float
    input: dict[str, Any]


async def _policy_path(caller: Caller, policy: Policy) -> SpacePath:
    return await path_of(caller, policy.space_id)


async def _check(body: str, rego_version: str) -> list[PolicyProblem]:
    # The engine blocks on its worker process; keep the event loop free.
    problems = await asyncio.to_thread(validate_policy, body, rego_version)  # type: ignore[arg-type]
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        where = "; ".join(
            f"line {p.line}, column {p.column}: {p.message}" if p.line else p.message
            for p in errors
        )
        raise Invalid(
            f"the policy does not compile: {where}",
            details={"problems": [p.model_dump() for p in errors]},
        )
    return [p for p in problems if p.severity != "error"]


async def _load(caller: Caller, ref: str, action: str = "intent-policy:read") -> Policy:
    """The policy ``ref`` names, if the caller may ``action`` in its space."""
    async with caller.db.session() as session:
        policy = await store_policies.find_policy(session, ref)
    if policy is None:
        raise NotFound(f"policy {ref!r} does not exist; list policies with policy-list")
    require(caller, action, await _policy_path(caller, policy))
    return policy


async def _attached_names(caller: Caller, policy_ids: list[str]) -> dict[str, list[str]]:
    if not policy_ids:
        return {}
    async with caller.db.session() as session:
        rows = (
            await session.execute(
                select(PolicyAttachment.policy_id, Project.name)
                .join(Project, Project.id == PolicyAttachment.project_id)
                .where(PolicyAttachment.policy_id.in_(policy_ids))
                .order_by(Project.name)
            )
        ).all()
    out: dict[str, list[str]] = {}
    for policy_id, name in rows:
        out.setdefault(policy_id, []).append(name)
    return out


def _summary(policy: Policy, attached: list[str], space: str) -> PolicySummary:
    return PolicySummary(
        id=policy.id,
        name=policy.name,
        space=space,
        description=policy.description,
        labels=list(policy.labels),
        rego_version=policy.rego_version,
        attached_projects=attached,
        updated_at=policy.updated_at,
    )


def _view(
    policy: Policy, attached: list[str], warnings: list[PolicyProblem], space: str
) -> PolicyView:
    return PolicyView(
        **_summary(policy, attached, space).model_dump(),
        body=policy.body,
        created_at=policy.created_at,
        warnings=warnings,
    )


def _diff(before: str, after: str, name: str) -> str:
    lines = difflib.unified_diff(
        before.splitlines(keepends=True),
        after.splitlines(keepends=True),
        fromfile=f"{name} (before)",
        tofile=f"{name} (after)",
    )
    return "".join(lines)


async def _record(
    caller: Caller,
    session: Any,
    policy: Policy,
    operation: str,
    *,
    project_id: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    await history.record(
        session,
        subject="policy",
        operation=operation,
        status="succeeded",
        actor=caller.actor,
        project_id=project_id,
        resource_id=policy.name,
        resource_type="policy",
        details={"policy_id": policy.id, **(details or {})},
    )


# -- reading ------------------------------------------------------------------------------


async def list_policies(
    caller: Caller, *, limit: int = 50, cursor: str | None = None
) -> PolicyList:
    """The policies the caller may see."""
    limit = max(1, min(limit, 200))
    visible = await readable(caller, "intent-policy:read")
    async with caller.db.session() as session:
        rows = await store_policies.list_policies(
            session, limit=limit + 1, after=cursor, space_ids=visible
        )
        spaces = await access_store.space_map(session)
    page = rows[:limit]
    attached = await _attached_names(caller, [p.id for p in page])
    return PolicyList(
        policies=[
            _summary(p, attached.get(p.id, []), spaces.get(p.space_id, (p.space_id,))[0])
            for p in page
        ],
        next_cursor=page[-1].id if len(rows) > limit else None,
    )


async def get_policy(caller: Caller, ref: str) -> PolicyView:
    policy = await _load(caller, ref)
    attached = await _attached_names(caller, [policy.id])
    path = await _policy_path(caller, policy)
    return _view(policy, attached.get(policy.id, []), [], path[-1].name)


async def project_policies(caller: Caller, project_ref: str) -> list[dict[str, str]]:
    """Which policies govern a project, and how (attached or auto-attached by label)."""
    project = await load_project(caller, project_ref)
    async with caller.db.session() as session:
        found = await store_policies.attached_policies(session, project)
    return [{"id": p.id, "name": p.name, "how": how} for p, how in found]


# -- writing ------------------------------------------------------------------------------


async def create_policy(caller: Caller, body: PolicyCreate) -> PolicyView:
    space = await load_space(caller, body.space or ROOT_SPACE_ID)
    await require_in(caller, "intent-policy:create", space.id)
    warnings = await _check(body.body, body.rego_version)
    try:
        async with caller.db.transaction() as session:
            policy = Policy(
                name=body.name,
                space_id=space.id,
                description=body.description,
                body=body.body,
                rego_version=body.rego_version,
                labels=sorted(set(body.labels)),
                created_by=caller.actor.id,
            )
            session.add(policy)
            await session.flush()
            await _record(
                caller,
                session,
                policy,
                "create",
                details={"diff": _diff("", body.body, body.name), "labels": policy.labels},
            )
    except IntegrityError as exc:
        raise Conflict(
            f"a policy named {body.name!r} already exists in space {space.name}; update it "
            "with policy-update"
        ) from exc
    return _view(policy, [], warnings, space.name)


async def update_policy(caller: Caller, ref: str, changes: PolicyUpdate) -> PolicyView:
    current = await _load(caller, ref, "intent-policy:update")
    rego_version = changes.rego_version or current.rego_version
    warnings = await _check(changes.body, rego_version) if changes.body is not None else []
    if changes.body is None and changes.rego_version is not None:
        warnings = await _check(current.body, rego_version)
    async with caller.db.transaction() as session:
        policy = await session.get(Policy, current.id, with_for_update=True)
        assert policy is not None
        details: dict[str, Any] = {}
        if changes.body is not None and changes.body != policy.body:
            details["diff"] = _diff(policy.body, changes.body, policy.name)
            policy.body = changes.body
        for field in ("description", "rego_version", "name"):
            value = getattr(changes, field)
            if value is not None and value != getattr(policy, field):
                details[field] = {"before": getattr(policy, field), "after": value}
                setattr(policy, field, value)
        if changes.labels is not None and sorted(set(changes.labels)) != policy.labels:
            details["labels"] = {"before": policy.labels, "after": sorted(set(changes.labels))}
            policy.labels = sorted(set(changes.labels))
        if details:
            await _record(caller, session, policy, "update", details=details)
    attached = (await _attached_names(caller, [policy.id])).get(policy.id, [])
    path = await _policy_path(caller, policy)
    return _view(policy, attached, warnings, path[-1].name)


async def _governed(session: Any, policy: Policy) -> list[str]:
    """Names of the projects ``policy`` governs (the same rule the policy step applies:
    attached, or auto-attached by label in its space)."""
    names = []
    for project in (await session.scalars(select(Project).order_by(Project.name))).all():
        governing = await store_policies.attached_policies(session, project)
        if any(found.id == policy.id for found, _ in governing):
            names.append(project.name)
    return names


async def delete_policy(caller: Caller, ref: str) -> None:
    """Delete a policy that governs no project: a guardrail is taken off explicitly
    (detach it, or drop its autoattach labels) before it can disappear."""
    policy = await _load(caller, ref, "intent-policy:delete")
    async with caller.db.transaction() as session:
        current = await session.get(Policy, policy.id)
        governed = await _governed(session, current) if current is not None else []
        if governed:
            shown = ", ".join(governed[:10]) + (" …" if len(governed) > 10 else "")
            auto = sorted(store_policies.autoattach_labels(policy))
            how = (
                f"detach it (policy-detach) or remove its autoattach label(s) {auto} "
                "(policy-update)"
                if auto
                else "detach it from them first (policy-detach)"
            )
            raise Conflict(
                f"policy {policy.name} still governs {len(governed)} project(s) ({shown}); "
                f"{how}, then delete it"
            )
        if current is not None:
            await _record(
                caller,
                session,
                current,
                "delete",
                details={"diff": _diff(current.body, "", current.name)},
            )
            await session.delete(current)


async def _attachable(caller: Caller, ref: str, project_ref: str) -> tuple[Policy, Project]:
    """A policy and a project it may govern (it lives in the project's space or above),
    with the caller allowed to attach policies there."""
    policy = await _load(caller, ref)
    project, path = await located(caller, project_ref)
    require(caller, "intent-policy:attach", path)
    if policy.space_id not in {space.id for space in path}:
        policy_space = (await _policy_path(caller, policy))[-1].name
        raise Invalid(
            f"policy {policy.name} lives in space {policy_space}, which is not project "
            f"{project.name}'s space ({path[-1].name}) or above it; a policy governs only "
            "its own space and the spaces below"
        )
    return policy, project


async def attach(caller: Caller, ref: str, project_ref: str) -> PolicyView:
    policy, project = await _attachable(caller, ref, project_ref)
    async with caller.db.transaction() as session:
        if await session.get(PolicyAttachment, (policy.id, project.id)) is None:
            session.add(
                PolicyAttachment(
                    policy_id=policy.id, project_id=project.id, created_by=caller.actor.id
                )
            )
            await _record(
                caller,
                session,
                policy,
                "attach",
                project_id=project.id,
                details={"project": project.name},
            )
    return await get_policy(caller, policy.id)


async def detach(caller: Caller, ref: str, project_ref: str) -> PolicyView:
    policy, project = await _attachable(caller, ref, project_ref)
    async with caller.db.transaction() as session:
        row = await session.get(PolicyAttachment, (policy.id, project.id))
        if row is None:
            auto = store_policies.autoattach_labels(policy)
            hint = (
                f"; it applies through its autoattach label(s) {sorted(auto)}: change its labels"
                if auto
                else ""
            )
            raise NotFound(f"policy {policy.name} is not attached to {project.name}{hint}")
        await session.delete(row)
        await _record(
            caller,
            session,
            policy,
            "detach",
            project_id=project.id,
            details={"project": project.name},
        )
    return await get_policy(caller, policy.id)


# -- workbench ----------------------------------------------------------------------------


async def list_samples(caller: Caller, ref: str, *, limit: int = 20) -> list[SampleView]:
    """Kept evaluations hold (redacted) inputs from every project the policy governs:
    only those with intent-policy:samples (authors, reviewers, admins) read them."""
    policy = await _load(caller, ref, "intent-policy:samples")
    async with caller.db.session() as session:
        rows = await store_policies.list_samples(session, policy.id, limit=max(1, min(limit, 100)))
    return [
        SampleView(
            id=r.id,
            created_at=r.created_at,
            project_id=r.project_id,
            change_id=r.change_id,
            input=r.input,
            result=r.result,
        )
        for r in rows
    ]


async def simulate(caller: Caller, ref: str | None, request: SimulateRequest) -> SimulationResult:
    """Evaluate a policy body against a kept sample's input or a given one."""
    policy = await _load(caller, ref) if ref else None
    if policy is None and not await readable(caller, "intent-policy:read"):
        raise Forbidden(f"{caller.actor.name} may not see or simulate policies anywhere")
    body = request.body or (policy.body if policy else None)
    if not body:
        raise Invalid("give a policy (name or id) or a body to simulate")
    rego_version = request.rego_version or (policy.rego_version if policy else "v1")
    data: dict[str, Any]
    if request.sample_id:
        if policy is None:
            raise Invalid("a sample belongs to a policy: name the policy")
        samples = await list_samples(caller, policy.id, limit=100)
        sample = next((s for s in samples if s.id == request.sample_id), None)
        if sample is None:
            raise NotFound(f"policy {policy.name} has no sample {request.sample_id}")
        data = sample.input
    elif request.input is not None:
        data = request.input
    else:
        data = PolicyInput.example().model_dump(mode="json")
    result = await asyncio.to_thread(
        functools.partial(
            evaluate_policy,
            body,
            data,
            rego_version=rego_version,  # type: ignore[arg-type]
            timeout_seconds=caller.settings.policy_timeout_seconds,
            name=policy.name if policy else "draft",
        )
    )
    decision: Literal["allowed", "denied", "pending"] = (
        "denied" if result.deny else "allowed" if result.allow else "pending"
    )
    return SimulationResult(
        decision=decision,
        deny=result.deny,
        allow=result.allow,
        prints=result.prints,
        sample=result.sample,
        error=result.error,
        duration_ms=result.duration_ms,
        input=data,
    )
