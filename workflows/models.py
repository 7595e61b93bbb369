"""Wire types shared by workflows, activities and the API.

They travel as Temporal payloads (pydantic data converter), so everything here is
JSON-safe and holds no secret values: configs stay in the database, and states
crossing Temporal are redacted views.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from workflows.actor import Actor
from workflows.merge_patch import compose_patches, merge_patch

__all__ = [
    "FINAL_STATUSES",
    "SETTLED_STATUSES",
    "ApplyInput",
    "ApplyItem",
    "ApplyOutcome",
    "ApplyResult",
    "CarriedChange",
    "ChangeInput",
    "ChangeStatus",
    "ChangeView",
    "CheckLeaseInput",
    "DecisionRequest",
    "DiagnosticView",
    "DiscoveredObject",
    "DiscoveryInput",
    "DiscoveryResult",
    "DriftCheckInput",
    "DriftReport",
    "DriftTarget",
    "DriftedResource",
    "ExportInput",
    "ExportResult",
    "HistoryRow",
    "Holder",
    "LookupInput",
    "MirrorLockInput",
    "OperationKind",
    "OperationRef",
    "OperationRequest",
    "OperationState",
    "PlanInput",
    "PlanResult",
    "PlannedOperation",
    "PolicyCheckInput",
    "PolicyResultView",
    "PolicyVerdictView",
    "ProjectInfo",
    "Restore",
    "RetryRequest",
    "StageInput",
    "TtlCleanupInput",
    "TtlCleanupStarted",
    "TtlCleanupState",
    "TtlFinished",
    "TtlInput",
    "TtlLockInput",
    "TtlLockResult",
    "TtlOutcomeInput",
    "TtlProjectInput",
    "TtlReschedule",
    "TtlStatus",
    "TtlWarnInput",
    "WatchRequest",
    "progress_marker",
    "ttl_workflow_id",
]

OperationKind = Literal["create", "update", "delete", "import", "refresh"]
LookupKind = Literal["search", "provider", "resources", "data_sources", "read_data", "lock"]
# "gone": a refresh found the object deleted outside intent (it stays, marked missing).
Action = Literal["create", "update", "replace", "delete", "no-op", "import", "refresh", "gone"]

ChangeStatus = Literal[
    "planning",  # the lease check, provider discovery, plan and policy check
    "awaiting_confirmation",
    "applying",
    "failed",
    # final
    "planned",
    "applied",
    "denied",
    "rejected",
    "expired",
    "abandoned",
    "invalid",
]
FINAL_STATUSES: frozenset[str] = frozenset(
    {"planned", "applied", "denied", "rejected", "expired", "abandoned", "invalid"}
)
# Where a change stops moving on its own: done, or waiting for a human.
SETTLED_STATUSES: frozenset[str] = FINAL_STATUSES | {"awaiting_confirmation", "failed"}


def progress_marker(status: str, operation_statuses: Iterable[str]) -> str:
    """A change's progress in one string: it differs exactly when something moved."""
    return f"{status}:{','.join(operation_statuses)}"


OperationStatus = Literal[
    "planning",
    "planned",
    "invalid",
    "denied",
    "pending_review",
    "awaiting_confirmation",
    "confirmed",
    "rejected",
    "expired",
    "queued",
    "applying",
    "applied",
    "failed",
    "blocked",
    "abandoned",
]


class ProjectInfo(BaseModel):
    id: str
    name: str
    space: str = "root"
    labels: list[str] = []
    # The worker pool its provider work runs on (``workflows.temporal.pool_queue``).
    pool: str | None = None


class Restore(BaseModel):
    """A rollback's operation: return the resource to a recorded configuration (its
    version's config ``before`` or ``after`` that change), resolved by the worker."""

    version_id: str
    side: Literal["before", "after"] = "before"


class OperationRequest(BaseModel):
    """One operation as asked for; stored in the ``changes`` row, never in Temporal.

    ``config`` is the whole config for create/import, a merge patch for update (a key
    set to null removes it).
    """

    index: int
    kind: OperationKind
    resource_id: str
    resource_type: str
    provider: str | None = None
    version: str | None = None
    config: dict[str, Any] | None = None
    import_id: str | None = None
    depends_on: list[str] = []
    # Fixes stored with a retry, in order. The server appends them without opening the
    # sealed config; the worker folds them in (``patched``).
    patches: list[dict[str, Any]] = []
    # A rollback: the config comes from a recorded version (the worker opens it).
    restore: Restore | None = None

    def patched(self) -> OperationRequest:
        """The request with its retry patches folded into its config."""
        if not self.patches:
            return self
        # An update's config is itself a patch: keep the fix's nulls (they remove keys).
        combine = compose_patches if self.kind == "update" else merge_patch
        config = self.config or {}
        for patch in self.patches:
            config = combine(config, patch)
        return self.model_copy(update={"config": config, "patches": []})

    def ref(self) -> OperationRef:
        return OperationRef(
            index=self.index,
            kind=self.kind,
            resource_id=self.resource_id,
            resource_type=self.resource_type,
        )


class OperationRef(BaseModel):
    """What the workflow input says about one operation (no config: that stays in the DB)."""

    index: int
    kind: OperationKind
    resource_id: str
    resource_type: str


class ChangeInput(BaseModel):
    change_id: str
    project: ProjectInfo
    actor: Actor
    operations: list[OperationRef]
    dry_run: bool = False
    confirmation_timeout_seconds: float = 3600.0
    # Operations planned or applied at once (per provider process): a sliding window.
    max_parallel: int = 10
    lease_renew_seconds: float = 60.0
    # How long provider work waits for a worker of the project's pool to pick it up.
    pool_wait_seconds: float = 900.0
    # History events before the workflow continues as new (while it waits in a hold).
    max_history: int = 2_000
    # Carried over continue-as-new.
    carried: CarriedChange | None = None
    # The server's signature over the requester for this change (workflows.assertions):
    # the first activity checks it before it claims the change for this execution.
    assertion: str = ""


class DiagnosticView(BaseModel):
    severity: Literal["error", "warning"] = "error"
    summary: str
    detail: str = ""
    attribute: str | None = None


class PlannedOperation(BaseModel):
    """One operation's plan as users, policies and operators see it (redacted)."""

    index: int
    kind: OperationKind
    resource_id: str
    resource_type: str
    provider: str
    provider_version: str
    action: Action
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    changed: list[str] = []
    replace_paths: list[str] = []
    replace_segments: list[list[str | int]] = []
    unknown: list[str] = []
    depends_on: list[str] = []
    diagnostics: list[DiagnosticView] = []
    request_digest: str = ""
    # Why a replacement replaces, when no attribute forces it (a tainted object).
    replace_reason: str = ""

    @property
    def needs_confirmation(self) -> bool:
        return self.action in {"delete", "replace"}


class PolicyResultView(BaseModel):
    policy: str
    deny: list[str] = []
    allow: list[str] = []
    error: str | None = None


class PolicyVerdictView(BaseModel):
    index: int
    decision: Literal["allowed", "denied", "pending"]
    reasons: list[str] = []
    policies: list[PolicyResultView] = []


class OperationState(BaseModel):
    index: int
    kind: OperationKind
    resource_id: str
    resource_type: str
    action: Action | None = None
    status: OperationStatus = "planning"
    verdict: PolicyVerdictView | None = None
    diagnostics: list[DiagnosticView] = []
    error: str | None = None
    outputs: dict[str, Any] = Field(
        default_factory=dict, description="After apply: ids and values known only then"
    )
    attempts: int = 0
    started_at: datetime | None = None
    finished_at: datetime | None = None


class ChangeView(BaseModel):
    """The ``status`` query: everything an operator or the client needs to see."""

    change_id: str
    project: ProjectInfo
    actor: Actor
    status: ChangeStatus
    dry_run: bool
    message: str = ""
    operations: list[OperationState]
    plan: list[PlannedOperation] = []
    waiting_for: list[str] = Field(
        default_factory=list, description="Why the change waits for a human, if it does."
    )
    confirm_deadline: datetime | None = None
    decided_by: str | None = None


class CarriedChange(BaseModel):
    """What a change waiting in its failed hold takes into its next run."""

    status: ChangeStatus
    message: str = ""
    operations: list[OperationState]
    plan: list[PlannedOperation] = []
    failed: list[int] = []
    decided_by: str | None = None
    used_assertions: list[str] = []


# -- updates -----------------------------------------------------------------------------


class DecisionRequest(BaseModel):
    """A human's decision on a change.

    intent's own doors send ``actor`` with ``assertion``, the server's signature over it
    (see ``workflows.assertions``); the workflow refuses an actor that does not match
    its assertion. Someone typing an update into the Temporal UI has no assertion: they
    may name themselves in ``operator``, which history keeps as an unverified claim.
    """

    actor: Actor | None = None
    assertion: str = ""
    operator: str = Field(default="", max_length=200)
    comment: str = Field(default="", max_length=2000)


class RetryRequest(DecisionRequest):
    pass


class WatchRequest(BaseModel):
    """Wait for the change to move: past ``seen`` (a marker from an earlier view), or,
    with ``settled``, until it is done or waits for a human."""

    seen: str = ""
    settled: bool = False


# -- activity inputs and outputs ---------------------------------------------------------


class CheckLeaseInput(BaseModel):
    """Who a change acts for, and the proof it is the change intent started."""

    project: ProjectInfo
    actor: Actor
    change_id: str
    dry_run: bool = False
    assertion: str = ""
    # The execution chain running the change (its first run id).
    run_chain: str = ""


class PlanInput(BaseModel):
    change_id: str
    project: ProjectInfo
    actor: Actor
    lease: CheckLeaseInput | None = None
    indexes: list[int] | None = None  # None: every operation
    discover: bool = True  # install the providers and check their types exist
    timestamp_ns: int = 0  # the policy input's request time
    window: int = 10


class PlanResult(BaseModel):
    operations: list[PlannedOperation]
    errors: dict[int, list[DiagnosticView]] = {}
    verdicts: list[PolicyVerdictView] = []


class PolicyCheckInput(BaseModel):
    change_id: str
    project: ProjectInfo
    actor: Actor
    operations: list[PlannedOperation]
    timestamp_ns: int


class ApplyItem(BaseModel):
    """One operation to apply, as approved, and what must be applied before it."""

    index: int
    approved_action: Action
    request_digest: str = ""
    after: list[int] = []


class ApplyInput(BaseModel):
    change_id: str
    project: ProjectInfo
    actor: Actor
    lease: CheckLeaseInput | None = None
    operations: list[ApplyItem]
    approved_by: str | None = None
    check_lease: bool = True
    window: int = 10
    # The stage's bookkeeping, written by the activity: its start (with the journal)
    # and, when everything applied, the change's end.
    stage: StageInput | None = None
    finish: StageInput | None = None


class ApplyResult(BaseModel):
    index: int
    status: Literal["applied", "failed", "blocked"]
    action: Action
    after: dict[str, Any] | None = None
    diagnostics: list[DiagnosticView] = []
    recovered: bool = False


class ApplyOutcome(BaseModel):
    results: list[ApplyResult]
    finished: bool = False  # the ``finish`` stage was written


class HistoryRow(BaseModel):
    index: int | None = None
    resource_id: str | None = None
    resource_type: str | None = None
    operation: str
    status: str
    reasons: list[str] = []
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    details: dict[str, Any] = {}


class StageInput(BaseModel):
    """One stage's bookkeeping, in one transaction: its history rows and the status."""

    change_id: str
    project_id: str
    actor: Actor
    status: ChangeStatus
    message: str = ""
    final: bool = False
    rows: list[HistoryRow] = []
    # Increasing per change (workflow time in microseconds): written at most once.
    seq: int = 0


# -- the project lock --------------------------------------------------------------------


class Holder(BaseModel):
    """Who holds (or asks for) the lease."""

    id: str
    name: str
    via: str = "api"


class MirrorLockInput(BaseModel):
    """What the mirror activity writes, plus the event to record in history (if any)."""

    project_id: str
    seq: int
    holder_id: str | None
    holder_name: str | None
    acquired_at: datetime | None
    renewed_at: datetime | None
    expires_at: datetime | None
    # acquire / release / force_release / expire; None for quiet renewals.
    event: str | None = None
    actor: Holder | None = None
    reason: str = ""


# -- provider lookups --------------------------------------------------------------------


class LookupInput(BaseModel):
    kind: LookupKind
    project_id: str | None = None
    provider: str | None = None
    version: str | None = None
    query: str = ""
    types: list[str] = []
    limit: int = 50
    cursor: str | None = None
    data_source: str | None = None
    config: dict[str, Any] | None = None
    # The worker pool whose network holds the project's credentials (project lookups).
    pool: str | None = None
    # The server's signature over who asked (workflows.assertions, update "lookup"):
    # a lookup started by hand on Temporal's port reads nothing.
    assertion: str = ""


ChangeInput.model_rebuild()  # it refers to CarriedChange, defined after it
ApplyInput.model_rebuild()  # it refers to StageInput, defined after it
# -- export ------------------------------------------------------------------------------


class ExportInput(BaseModel):
    project_id: str
    project_name: str
    include_secrets: bool = False
    verify_imports: bool = True
    # As for lookups: the project's worker pool, and the server's signature ("export").
    pool: str | None = None
    assertion: str = ""


class ExportResult(BaseModel):
    """What an export wrote. The files themselves travel sealed (``export.envelope``):
    they hold configs, and with ``include_secrets`` sensitive values."""

    sealed_files: str
    files: list[str]
    resources: list[str]
    in_state: list[str] = []
    not_in_state: list[str] = []
    unverified_imports: list[str] = []
    variables: dict[str, str] = {}


# -- discovery ---------------------------------------------------------------------------


class DiscoveryInput(BaseModel):
    project_id: str
    resource_type: str
    filters: dict[str, str] = {}
    limit: int = 200
    # As for lookups: the project's worker pool, and the server's signature ("discover").
    pool: str | None = None
    assertion: str = ""


class DiscoveredObject(BaseModel):
    import_id: str
    summary: str
    suggested_resource_id: str
    managed_by: str | None = Field(
        default=None, description="project/resource_id of another project that manages it"
    )
    managed_by_project_id: str | None = None


class DiscoveryResult(BaseModel):
    resource_type: str
    data_source: str
    found: list[DiscoveredObject]
    managed_here: list[str] = Field(
        default_factory=list, description="Resource ids of this project that already manage one"
    )
    more: bool = False
    note: str = ""


# -- drift -------------------------------------------------------------------------------


class DriftCheckInput(BaseModel):
    project_id: str
    # Filled in by the workflow from the project (its schedule's input cannot know it).
    pool: str | None = None


class DriftTarget(BaseModel):
    """Whether the project has a drift schedule (a check nobody scheduled is refused),
    and the worker pool its reads run on."""

    scheduled: bool
    pool: str | None = None


class DriftedResource(BaseModel):
    resource_id: str
    resource_type: str
    deleted: bool = False
    changes: list[dict[str, Any]] = Field(
        default_factory=list, description="[{attribute, before, after}], secrets redacted"
    )


class DriftReport(BaseModel):
    project_id: str
    checked: int
    drifted: list[DriftedResource] = Field(default_factory=list)
    skipped_busy: list[str] = Field(
        default_factory=list, description="Held by a change in flight: checked next time"
    )
    failed: dict[str, str] = Field(default_factory=dict)


# -- project TTL -------------------------------------------------------------------------


def ttl_workflow_id(project_id: str) -> str:
    return f"ttl-{project_id}"


class TtlInput(BaseModel):
    project_id: str
    project_name: str
    expires_at: datetime | None
    warnings_seconds: list[float] = [86400.0, 3600.0]
    grace_seconds: float = 3600.0


class TtlReschedule(BaseModel):
    expires_at: datetime | None


class TtlStatus(BaseModel):
    expires_at: datetime | None
    stage: str  # waiting / waiting_for_lock / cleaning / archived / kept / cancelled
    change_id: str | None = None
    message: str = ""


class TtlWarnInput(BaseModel):
    project_id: str
    project_name: str
    expires_at: datetime


class TtlLockInput(BaseModel):
    project_id: str
    project_name: str
    force: bool = False


class TtlLockResult(BaseModel):
    acquired: bool
    holder: str | None = None
    # False: the database says the project has not expired (the TTL moved, or none).
    expired: bool = True
    expires_at: datetime | None = None


class TtlCleanupInput(BaseModel):
    project_id: str
    project_name: str
    # Makes the cleanup change's id: a retried start finds the change it made.
    change_key: str


class TtlCleanupStarted(BaseModel):
    change_id: str | None = None
    resources: int = 0
    blocked: str | None = None


class TtlProjectInput(BaseModel):
    project_id: str
    project_name: str
    change_id: str | None = None


class TtlCleanupState(BaseModel):
    status: str
    final: bool
    message: str = ""


class TtlOutcomeInput(BaseModel):
    project_id: str
    project_name: str
    change_id: str | None
    outcome: str
    resources: int


class TtlFinished(BaseModel):
    archived: bool
    message: str
