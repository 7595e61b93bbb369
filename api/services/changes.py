"""Changes: submit resource operations as a ChangeWorkflow, follow it, decide on it.

REST, MCP and the CLI all come through here. A change is accepted only from the
holder of the project's lock; its request (configs included) is stored in the
database, and the workflow gets ids and summaries only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from pydantic.json_schema import SkipJsonSchema
from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from access.models import SpacePath
from access.permissions import operation_action
from api.context import Caller
from api.errors import Busy, Conflict, Forbidden, IntentError, Invalid, NotFound, Unavailable
from api.services import locks, pools
from api.services.access import check_local_files, readable, require
from api.services.integrations import check_regions
from api.services.projects import load_project, project_path, refuse_archived
from store import changes as store_changes
from store import history
from store import projects as store_projects
from store import resources as store_resources
from store import versions as store_versions
from store.models import Change, Project
from store.types import new_id, utcnow
from workflows.actor import Actor
from workflows.change import (
    CHANGE_FORBIDDEN,
    CHANGE_NOT_WAITING,
    CHANGE_UNVERIFIED,
    ChangeWorkflow,
    change_workflow_id,
    decision_refusal,
)
from workflows.models import (
    SETTLED_STATUSES,
    ChangeInput,
    ChangeView,
    DecisionRequest,
    OperationKind,
    OperationRequest,
    OperationState,
    PlannedOperation,
    ProjectInfo,
    Restore,
    RetryRequest,
    WatchRequest,
    progress_marker,
)
from workflows.references import RESOURCE_ID_PATTERN, ReferenceError, find_references
from workflows.temporal import (
    SA_ACTOR,
    SA_OPERATION,
    SA_PROJECT,
    SA_STATUS,
    UNPROCESSED_UPDATE,
    resend_unprocessed,
)

__all__ = [
    "SETTLED",
    "ChangeList",
    "ChangeSummary",
    "OperationInput",
    "OperationSummary",
    "abandon",
    "change_view",
    "confirm",
    "current_project",
    "list_changes",
    "refresh",
    "reject",
    "require_lease",
    "retry",
    "submit",
    "submit_and_wait",
    "summarize",
    "wait",
]

# Where a change stops moving on its own: done, or waiting for a human.
SETTLED = SETTLED_STATUSES

ResourceId = Field(pattern=RESOURCE_ID_PATTERN, description="Your name for the resource.")


class OperationInput(BaseModel):
    """One operation as clients send it."""

    kind: OperationKind
    resource_id: str = ResourceId
    resource_type: str | None = Field(
        default=None, description="e.g. aws_s3_bucket; required for create and import"
    )
    config: dict[str, Any] | None = Field(
        default=None,
        description="create/import: the config; update: a partial config merged over the "
        "stored one (null removes a key). Reference another resource with "
        '"${resource_id.attribute}".',
    )
    provider: str | None = Field(default=None, description="e.g. hashicorp/aws (implied)")
    version: str | None = Field(default=None, description="version constraint, e.g. ~> 5.0")
    import_id: str | None = Field(default=None, description="import: the provider's id")
    depends_on: list[str] = Field(default_factory=list)
    # Rollbacks (api/services/rollback.py) only: checked against the project below.
    restore: SkipJsonSchema[Restore | None] = None


class OperationSummary(BaseModel):
    resource_id: str
    resource_type: str
    operation: OperationKind
    action: str | None = None
    status: str
    changes: dict[str, Any] = Field(
        default_factory=dict, description="attribute → new value (updates: {before, after})"
    )
    known_after_apply: list[str] = Field(default_factory=list)
    outputs: dict[str, Any] = Field(
        default_factory=dict, description="After apply: values that were known only then"
    )
    replace_paths: list[str] = Field(default_factory=list)
    policy: str | None = Field(default=None, description="allowed / denied / pending")
    reasons: list[str] = Field(default_factory=list)
    error: str | None = None
    warnings: list[str] = Field(
        default_factory=list, description="What the plan wants the user to know"
    )


class ChangeSummary(BaseModel):
    """What a client needs after a change call: where it is and what to do next."""

    change_id: str
    project: str
    status: str
    message: str
    operations: list[OperationSummary]
    waiting_for: list[str] = Field(default_factory=list)
    confirm_deadline: datetime | None = None
    next_steps: str | None = None
    warnings: list[str] = Field(
        default_factory=list, description="Tell the user, e.g. that the project expires soon"
    )


class ChangeList(BaseModel):
    changes: list[ChangeSummary]
    next_cursor: str | None = None


# -- submitting ---------------------------------------------------------------------------


async def current_project(
    caller: Caller, ref: str | None, action: str = "intent-project:read"
) -> Project:
    """The named project, or the one whose lock the caller holds, if the caller may
    ``action`` in it (``load_project`` renews the holder's lease)."""
    if ref:
        return await load_project(caller, ref, action)
    async with caller.db.session() as session:
        held = await store_projects.projects_locked_by(session, caller.actor.id)
    if len(held) == 1:
        return await load_project(caller, held[0].id, action)
    if not held:
        raise Invalid(
            "no project given and you hold no project lock; call project-use NAME first "
            "(or pass project)"
        )
    names = ", ".join(p.name for p in held)
    raise Invalid(f"you hold the locks of several projects ({names}); pass project")


async def require_lease(caller: Caller, project: Project) -> None:
    """The caller must hold the project's lock. The database mirror answers the usual
    case; Temporal (the authority) is asked when the mirror says no, for the reason.
    The change's plan stage checks the lease with Temporal before anything runs."""
    refuse_archived(project)
    async with caller.db.session() as session:
        mirrored = await store_projects.lock_of(session, project.id)
    if (
        mirrored is not None
        and mirrored.holder_id == caller.actor.id
        and mirrored.expires_at is not None
        and mirrored.expires_at > utcnow()
    ):
        return
    lease = await locks.lease(caller, project)
    if lease.held and lease.holder is not None and lease.holder.id == caller.actor.id:
        return
    if lease.held and lease.holder is not None:
        until = lease.expires_at.isoformat() if lease.expires_at else "?"
        raise Busy(
            f"project {project.name} is locked by {lease.holder.name} until {until}; wait, "
            "or ask them or an admin to release it"
        )
    raise Conflict(
        f"you do not hold the lock of project {project.name}; call project-use {project.name} first"
    )


async def _requests(
    caller: Caller, project: Project, operations: list[OperationInput]
) -> list[OperationRequest]:
    if not operations:
        raise Invalid("a change needs at least one operation")
    if len(operations) > 100:
        raise Invalid("at most 100 operations per change; split it")
    seen: set[str] = set()
    out: list[OperationRequest] = []
    async with caller.db.session() as session:
        rows = {
            r.resource_id: r
            for r in await store_resources.get_resources(
                session, project.id, (op.resource_id for op in operations)
            )
        }
        for index, op in enumerate(operations):
            if op.resource_id in seen:
                raise Invalid(f"{op.resource_id} appears twice in one change; merge them")
            seen.add(op.resource_id)
            row = rows.get(op.resource_id)
            resource_type = op.resource_type
            if op.kind in ("update", "delete", "refresh"):
                if row is None:
                    raise NotFound(
                        f"{op.resource_id} is not in project {project.name}; list resources "
                        "with state-list"
                    )
                resource_type = resource_type or row.resource_type
            elif row is not None:
                raise Conflict(
                    f"{op.resource_id} already exists in project {project.name} (a "
                    f"{row.resource_type}); update it, or pick another resource id"
                )
            if not resource_type:
                raise Invalid(f"{op.resource_id}: resource_type is required to {op.kind}")
            if op.kind == "import" and not op.import_id:
                raise Invalid(f"{op.resource_id}: import needs import_id (the provider's id)")
            if op.restore is not None:
                version = await store_versions.get_version(session, op.restore.version_id)
                if (
                    version is None
                    or version.project_id != project.id
                    or version.resource_id != op.resource_id
                    or op.kind not in ("create", "update")
                ):
                    raise Invalid(f"{op.resource_id}: no such recorded configuration to restore")
                resource_type = version.resource_type
            elif op.kind == "create" and op.config is None:
                raise Invalid(f"{op.resource_id}: create needs a config")
            try:
                find_references(op.config or {})
            except ReferenceError as exc:
                raise Invalid(f"{op.resource_id}: {exc}") from exc
            out.append(
                OperationRequest(
                    index=index,
                    kind=op.kind,
                    resource_id=op.resource_id,
                    resource_type=resource_type,
                    provider=op.provider,
                    version=op.version,
                    config=op.config,
                    import_id=op.import_id,
                    depends_on=op.depends_on,
                    restore=op.restore,
                )
            )
    return out


@dataclass(frozen=True)
class _Submission:
    project: Project
    path: SpacePath
    requests: list[OperationRequest]
    change_id: str
    dry_run: bool


async def submit(
    caller: Caller,
    project_ref: str | None,
    operations: list[OperationInput],
    *,
    dry_run: bool = False,
    region: str | None = None,
    change_id: str | None = None,
) -> str:
    """Store the request and start its ChangeWorkflow; return the change id. ``region``:
    where the caller expects it to act (refused when the project's integration acts
    elsewhere); ``change_id`` when given: the system's own changes choose theirs, so a
    retry finds its change."""
    submission = await _store(caller, project_ref, operations, dry_run, region, change_id)
    await _launch(caller, submission)
    return submission.change_id


async def submit_and_wait(
    caller: Caller,
    project_ref: str | None,
    operations: list[OperationInput],
    *,
    seconds: float,
    dry_run: bool = False,
    region: str | None = None,
) -> ChangeView:
    """``submit``, then follow the change until it settles or ``seconds`` pass.

    The start and the wait are one call to Temporal (update-with-start): the answer
    comes the moment the change settles, with no polling and no extra workflow task.
    """
    submission = await _store(caller, project_ref, operations, dry_run, region)
    view = await _launch(caller, submission, wait_seconds=seconds)
    return view or await change_view(caller, submission.change_id)


async def _store(
    caller: Caller,
    project_ref: str | None,
    operations: list[OperationInput],
    dry_run: bool,
    region: str | None,
    change_id: str | None = None,
) -> _Submission:
    """Check the caller, the lease and the operations, and store the request."""
    project = await current_project(caller, project_ref)
    path = await project_path(caller, project)
    for kind in sorted({op.kind for op in operations}):
        require(caller, operation_action(kind), path)
    await require_lease(caller, project)
    requests = await _requests(caller, project, operations)
    check_local_files(caller, path, [(r.resource_id, r.config) for r in requests])
    await check_regions(caller, project, requests, region)
    change_id = change_id or change_workflow_id(project.id, new_id())
    try:
        await _record(caller, project, requests, change_id, dry_run)
    except _Busy as busy:
        # Changes closed outside intent (terminated in the Temporal UI) stop blocking
        # once their rows are closed: look for them only when something is blocked.
        await _close_orphans(caller, project, set(busy.blocking))
        await _record(caller, project, requests, change_id, dry_run)
    return _Submission(project, path, requests, change_id, dry_run)


class _Busy(Conflict):
    def __init__(self, message: str, blocking: dict[str, Change]) -> None:
        super().__init__(message)
        self.blocking = blocking


async def _record(
    caller: Caller,
    project: Project,
    requests: list[OperationRequest],
    change_id: str,
    dry_run: bool,
) -> None:
    """Store the request, unless an unfinished change holds one of its resources."""
    async with caller.db.transaction() as session:
        if not dry_run:
            await store_changes.serialize_project(session, project.id)
            busy = await store_changes.busy_resources(session, project.id)
            blocking = {
                r.resource_id: busy[r.resource_id] for r in requests if r.resource_id in busy
            }
            if blocking:
                rid, other = next(iter(blocking.items()))
                raise _Busy(
                    f"{rid} is part of change {other.id}, which is {other.status}; let it "
                    "finish, or confirm/reject/retry/abandon it first (change-status shows it)",
                    blocking,
                )
        await store_changes.create_change(
            session,
            change_id=change_id,
            project_id=project.id,
            actor=caller.actor,
            dry_run=dry_run,
            request=[r.model_dump(mode="json") for r in requests],
        )


async def _launch(
    caller: Caller, submission: _Submission, *, wait_seconds: float = 0.0
) -> ChangeView | None:
    """Start the workflow (and wait for it to settle, given ``wait_seconds``); a start
    that fails closes the stored request so it blocks nothing and says why."""
    change_id = submission.change_id
    try:
        return await _start(caller, submission, wait_seconds)
    except Exception as exc:
        if await _started_anyway(caller, change_id):
            return None  # the call timed out, but the workflow runs
        async with caller.db.transaction() as session:
            await store_changes.set_status(
                session, change_id, "invalid", {"message": f"could not start: {exc}"}, final=True
            )
        if isinstance(exc, IntentError):
            raise
        raise Unavailable(f"the change could not be started: {exc}; retry shortly") from exc


async def refresh(
    caller: Caller, project_ref: str | None, resource_ids: list[str] | None = None
) -> str:
    """Start a refresh of ``resource_ids``, or of every resource the project holds an
    object for (those marked missing have nothing to read); return the change id."""
    if not resource_ids:
        project = await current_project(caller, project_ref)
        async with caller.db.session() as session:
            rows = await store_resources.list_resources(session, project.id)
        resource_ids = [r.resource_id for r in rows if r.status != "missing"]
        if not resource_ids:
            raise Invalid(f"project {project.name} has no resources to refresh")
        project_ref = project.id
    operations = [OperationInput(kind="refresh", resource_id=r) for r in resource_ids]
    return await submit(caller, project_ref, operations)


async def _close_orphans(caller: Caller, project: Project, resource_ids: set[str]) -> None:
    """Finish change rows whose workflow is gone (e.g. terminated in the Temporal UI), so
    they stop blocking the resources they named."""
    async with caller.db.session() as session:
        busy = await store_changes.busy_resources(session, project.id)
    suspects = {busy[r].id: busy[r] for r in resource_ids if r in busy}
    if not suspects:
        return
    client = await caller.temporal()
    for change_id, change in suspects.items():
        try:
            described = await client.get_workflow_handle(change_id).describe()
        except RPCError as exc:
            # No workflow at all: the server died between storing the row and starting
            # it. Give a start in progress a minute before calling the row an orphan.
            young = (utcnow() - change.created_at).total_seconds() < 60
            if exc.status != RPCStatusCode.NOT_FOUND or young:
                continue
            name = "missing"
        else:
            if described.status == WorkflowExecutionStatus.RUNNING:
                continue
            name = described.status.name.lower() if described.status else "closed"
        async with caller.db.transaction() as session:
            await store_changes.set_status(
                session,
                change_id,
                "abandoned",
                {"message": f"its workflow is {name} (closed outside intent)"},
                final=True,
            )


async def _started_anyway(caller: Caller, change_id: str) -> bool:
    try:
        client = await caller.temporal()
        await client.get_workflow_handle(change_id).describe()
    except Exception:
        return False
    return True


async def _start(caller: Caller, submission: _Submission, wait_seconds: float) -> ChangeView | None:
    project, requests, change_id = submission.project, submission.requests, submission.change_id
    summary = ", ".join(f"{r.kind} {r.resource_type}.{r.resource_id}" for r in requests)
    dry_run = submission.dry_run
    client = await caller.temporal()
    # Resolved for the project's space: policies see the roles held there.
    actor = caller.actor_in(submission.path)
    input = ChangeInput(
        change_id=change_id,
        project=ProjectInfo(
            id=project.id,
            name=project.name,
            space=project.space_id,
            labels=project.labels,
            pool=project.pool,
        ),
        actor=actor,
        assertion=caller.assertion(change_id, "start", actor),
        operations=[r.ref() for r in requests],
        dry_run=dry_run,
        confirmation_timeout_seconds=caller.settings.confirmation_timeout_seconds,
        max_parallel=caller.settings.provider_concurrency,
        lease_renew_seconds=max(caller.settings.lock_lease_seconds / 3, 1.0),
        pool_wait_seconds=caller.settings.pool_wait_seconds,
    )
    options: dict[str, Any] = dict(
        id=change_id,
        id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        task_queue=caller.settings.temporal_task_queue,
        search_attributes=TypedSearchAttributes(
            [
                SearchAttributePair(SA_PROJECT, project.name),
                SearchAttributePair(SA_OPERATION, sorted({r.kind for r in requests})),
                SearchAttributePair(SA_STATUS, "planning"),
                SearchAttributePair(SA_ACTOR, caller.actor.name),
            ]
        ),
        memo={
            "summary": f"{caller.actor.name} via {caller.actor.via}: {summary}"
            + (" (dry run)" if dry_run else ""),
            "project": project.name,
        },
        static_summary=f"{project.name}: {summary}"[:200],
    )
    if wait_seconds <= 0:
        await client.start_workflow(ChangeWorkflow.run, input, **options)
        return None
    start = WithStartWorkflowOperation(ChangeWorkflow.run, input, **options)
    try:
        view: ChangeView = await asyncio.wait_for(
            client.execute_update_with_start_workflow(
                ChangeWorkflow.watch, WatchRequest(settled=True), start_workflow_operation=start
            ),
            wait_seconds,
        )
    except (TimeoutError, WorkflowUpdateFailedError):
        # Started; it just did not settle in time, or the worker that took the watch went
        # away (Temporal's UnprocessedUpdate): the caller follows it from here.
        await start.workflow_handle()
        return None
    return view


# -- following ----------------------------------------------------------------------------


async def _load_change(caller: Caller, change_id: str) -> tuple[Change, SpacePath]:
    """The change row and its project's space path, if the caller may see the project."""
    async with caller.db.session() as session:
        row = await store_changes.get_change(session, change_id)
        project = await session.get(Project, row.project_id) if row is not None else None
    if row is None or project is None:
        raise NotFound(f"change {change_id} does not exist; list changes with history-list")
    path = await project_path(caller, project)
    require(caller, "intent-project:read", path)
    return row, path


def _handle(caller: Caller, client: Client, change_id: str) -> WorkflowHandle[Any, ChangeView]:
    return client.get_workflow_handle_for(ChangeWorkflow.run, change_id)


async def change_view(caller: Caller, change_id: str) -> ChangeView:
    """The workflow's own view (works while it runs and after it finished)."""
    await _load_change(caller, change_id)
    client = await caller.temporal()
    try:
        view = await _handle(caller, client, change_id).query(ChangeWorkflow.status_view)
    except RPCError as exc:
        raise Unavailable(f"could not read change {change_id} from Temporal: {exc}") from exc
    return await pools.with_notice(caller, view)


async def wait(
    caller: Caller,
    change_id: str,
    *,
    seconds: float,
    on_progress: Callable[[ChangeView], Awaitable[None]] | None = None,
) -> ChangeView:
    """Follow a change until it settles (done or waiting for a human) or ``seconds`` pass.

    The caller waits on the workflow (its ``watch`` update answers when the change
    moves), so a waiting caller costs nothing between moves. With ``on_progress`` it
    hears of every move; without, only of the settled change.
    """
    await _load_change(caller, change_id)
    client = await caller.temporal()
    handle = _handle(caller, client, change_id)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    seen = ""
    view: ChangeView
    if on_progress is not None:
        # Where it is now, by query (no history, no workflow task); then wait for moves.
        view = await change_view(caller, change_id)
        await on_progress(view)
        if view.status in SETTLED:
            return view
        seen = progress_marker(view.status, (op.status for op in view.operations))
    while True:
        remaining = deadline - loop.time()
        if remaining <= 0:
            return await change_view(caller, change_id)
        try:
            view = await asyncio.wait_for(
                handle.execute_update(
                    ChangeWorkflow.watch, WatchRequest(seen=seen, settled=on_progress is None)
                ),
                remaining,
            )
        except TimeoutError:
            return await change_view(caller, change_id)
        except (WorkflowUpdateFailedError, RPCError):
            # The workflow has closed (or continued as new, mid-call): its own answer.
            view = await change_view(caller, change_id)
        if on_progress is not None:
            await on_progress(view)
        if view.status in SETTLED:
            return view
        seen = progress_marker(view.status, (op.status for op in view.operations))


# -- deciding -----------------------------------------------------------------------------


def _translate(exc: WorkflowUpdateFailedError | RPCError) -> IntentError:
    cause = exc.cause if isinstance(exc, WorkflowUpdateFailedError) else None
    if isinstance(cause, ApplicationError):
        if cause.type in (CHANGE_FORBIDDEN, CHANGE_UNVERIFIED):
            return Forbidden(cause.message)
        if cause.type == CHANGE_NOT_WAITING:
            return Conflict(cause.message)
        if cause.type == UNPROCESSED_UPDATE:
            return Unavailable(f"no worker took the decision ({cause.message}); retry in a moment")
        return IntentError(cause.message)
    if isinstance(exc, RPCError) and "completed" in str(exc).lower():
        return Conflict("the change already finished; nothing to decide")
    return Unavailable(f"the change did not answer: {exc}")


async def _update(caller: Caller, change_id: str, method: Any, comment: str) -> ChangeView:
    """Send a decision update, signed for this caller, this change and this update.

    The actor carries the actions the caller holds in the project's space; the
    workflow's validator decides with them (access.permissions.change_refusal).
    """
    _, path = await _load_change(caller, change_id)
    client = await caller.temporal()
    handle = _handle(caller, client, change_id)
    update = method.__name__
    actor = caller.actor_in(path)
    request_type = RetryRequest if update == "retry" else DecisionRequest
    request = request_type(
        actor=actor, assertion=caller.assertion(handle.id, update, actor), comment=comment
    )
    try:
        result: ChangeView = await resend_unprocessed(
            lambda: handle.execute_update(method, request)
        )
    except (WorkflowUpdateFailedError, RPCError) as exc:
        raise _translate(exc) from exc
    return result


async def confirm(caller: Caller, change_id: str, comment: str = "") -> ChangeView:
    return await _update(caller, change_id, ChangeWorkflow.confirm, comment)


async def reject(caller: Caller, change_id: str, comment: str = "") -> ChangeView:
    return await _update(caller, change_id, ChangeWorkflow.reject, comment)


async def retry(
    caller: Caller,
    change_id: str,
    comment: str = "",
    config_patches: dict[str, dict[str, Any]] | None = None,
) -> ChangeView:
    """Retry a failed change; ``config_patches`` (resource id → merge patch) fix configs.

    Fixing a configuration is changing the resource: it needs the resource action of
    each patched operation besides the right to retry, and history names who patched
    (policies still see the change's requester)."""
    if config_patches:
        change, path = await _load_change(caller, change_id)
        # The workflow's own rule, asked here too: the patch is stored before the
        # workflow's validator sees the retry.
        requester = Actor(id=change.actor_id, name=change.actor_name)
        refused = decision_refusal(caller.actor_in(path), requester, "retry", change_id)
        if refused:
            raise Forbidden(refused)
        await _patch_request(caller, change, path, config_patches)
    return await _update(caller, change_id, ChangeWorkflow.retry, comment)


async def abandon(caller: Caller, change_id: str, comment: str = "") -> ChangeView:
    return await _update(caller, change_id, ChangeWorkflow.abandon, comment)


async def _patch_request(
    caller: Caller, change: Change, path: SpacePath, patches: dict[str, dict[str, Any]]
) -> None:
    change_id = change.id
    view = await change_view(caller, change_id)
    if view.status != "failed":
        raise Conflict(f"change {change_id} is {view.status}; only a failed change can be fixed")
    failed = {op.resource_id for op in view.operations if op.status in ("failed", "blocked")}
    unknown = set(patches) - failed
    if unknown:
        raise Invalid(
            f"{', '.join(sorted(unknown))} did not fail in change {change_id}; patch only "
            f"failed operations ({', '.join(sorted(failed))})"
        )
    patched = [op for op in view.operations if op.resource_id in patches]
    for kind in sorted({op.kind for op in patched}):
        require(caller, operation_action(kind), path)
    for resource_id, patch in patches.items():
        try:
            find_references(patch)
        except ReferenceError as exc:
            raise Invalid(f"{resource_id}: {exc}") from exc
    check_local_files(caller, path, patches.items())
    async with caller.db.transaction() as session:
        row = await store_changes.get_change(session, change_id)
        assert row is not None
        # The configs are sealed (the server does not open them): each fix is appended
        # to its operation and the worker folds it in (OperationRequest.patched).
        request = [
            {**op, "patches": [*op.get("patches", []), patches[op["resource_id"]]]}
            if op["resource_id"] in patches
            else op
            for op in row.request
        ]
        await store_changes.update_request(session, change_id, request)
        for op in patched:
            # Names only: a patch may carry secrets.
            await history.record(
                session,
                subject="change",
                operation="patch",
                status="succeeded",
                actor=caller.actor,
                project_id=change.project_id,
                change_id=change_id,
                operation_index=op.index,
                resource_id=op.resource_id,
                resource_type=op.resource_type,
                details={
                    "requested_by": change.actor_name,
                    "patched_by": caller.actor.name,
                    "attributes": sorted(patches[op.resource_id]),
                },
            )


# -- summaries ----------------------------------------------------------------------------


def _changes_of(planned: PlannedOperation | None) -> tuple[dict[str, Any], list[str]]:
    if planned is None:
        return {}, []
    unknown = sorted(planned.unknown)
    before, after = planned.before or {}, planned.after or {}
    out: dict[str, Any] = {}
    for path in planned.changed:
        top = path.split(".", 1)[0].split("[", 1)[0]
        if top in out or path in unknown or top in unknown:
            continue
        if planned.action in ("update", "replace", "refresh"):
            out[top] = {"before": before.get(top), "after": after.get(top)}
        elif planned.action == "delete":
            continue
        else:
            out[top] = after.get(top)
    return out, unknown


# Operations that may still be applied: for the others (applied, denied, failed, ...)
# "known after apply" is noise in the caller's view.
_STILL_TO_APPLY = frozenset(
    {
        "planning",
        "planned",
        "pending_review",
        "awaiting_confirmation",
        "confirmed",
        "queued",
        "applying",
    }
)


def _operation_summary(op: OperationState, planned: PlannedOperation | None) -> OperationSummary:
    changes, unknown = _changes_of(planned)
    return OperationSummary(
        resource_id=op.resource_id,
        resource_type=op.resource_type,
        operation=op.kind,
        action=op.action,
        status=op.status,
        changes=changes,
        known_after_apply=unknown if op.status in _STILL_TO_APPLY else [],
        outputs=op.outputs,
        replace_paths=planned.replace_paths if planned else [],
        policy=op.verdict.decision if op.verdict else None,
        reasons=op.verdict.reasons if op.verdict else [],
        error=op.error,
        warnings=list(
            dict.fromkeys(
                d.summary
                for d in [*(planned.diagnostics if planned else []), *op.diagnostics]
                if d.severity == "warning"
            )
        ),
    )


def summarize(view: ChangeView, base_url: str | None = None) -> ChangeSummary:
    plans = {p.index: p for p in view.plan}
    next_steps = None
    if view.status == "awaiting_confirmation":
        review = any(op.status == "pending_review" for op in view.operations)
        who = "A reviewer (role reviewer or admin)" if review else "The user"
        next_steps = (
            f"{who} must confirm or reject: change-confirm / change-reject with change_id "
            f"{view.change_id}, `intent changes confirm {view.change_id}`, "
            f"POST /api/v1/changes/{view.change_id}/confirm"
            + (f", or the web UI at {base_url}/ui/changes/{view.change_id}" if base_url else "")
            + ". Ask the user; do not confirm on their behalf."
        )
    elif view.status == "failed":
        next_steps = (
            "Fix the cause, then retry (`intent changes retry "
            f"{view.change_id}`, POST /api/v1/changes/{view.change_id}/retry with optional "
            "config_patches) or abandon it."
        )
    return ChangeSummary(
        change_id=view.change_id,
        project=view.project.name,
        status=view.status,
        message=view.message,
        operations=[_operation_summary(op, plans.get(op.index)) for op in view.operations],
        waiting_for=view.waiting_for,
        confirm_deadline=view.confirm_deadline,
        next_steps=next_steps,
    )


async def list_changes(
    caller: Caller,
    *,
    project_ref: str | None = None,
    status: str | None = None,
    limit: int = 20,
    cursor: str | None = None,
) -> list[Change]:
    project_id = None
    visible = None
    if project_ref:
        project_id = (await load_project(caller, project_ref)).id
    else:
        visible = await readable(caller, "intent-project:read")
    async with caller.db.session() as session:
        return await store_changes.list_changes(
            session,
            project_id=project_id,
            status=status,
            limit=limit,
            before_id=cursor,
            space_ids=visible,
        )
