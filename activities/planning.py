"""Helpers the change activities share: desired configs, references, ordering checks,
redacted views. Pure: the rooms that read the database and call providers use them."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any

from temporalio.exceptions import ApplicationError

from access.credentials import local_file_paths
from activities.errors import user_error
from providers.codec import UNKNOWN, from_wire, is_unknown_wire, to_user
from providers.config import convert_config
from providers.errors import Diagnostic, ProviderError
from providers.plan import SENSITIVE_DISPLAY, diff, redact
from providers.results import PlannedChange, ResourceState
from providers.schema import Block
from store.models import Resource
from workflows.merge_patch import merge_patch
from workflows.models import Action, DiagnosticView, OperationRequest, PlannedOperation
from workflows.references import (
    Reference,
    ReferenceError,
    find_references,
    format_path,
    references_by_attribute,
    resolve_references,
)

if TYPE_CHECKING:
    from providers.client import ProviderClient

__all__ = [
    "action_of",
    "check_deletes",
    "check_existence",
    "check_sensitive_references",
    "config_from_state",
    "depends_on",
    "desired_config",
    "diagnostics_view",
    "error_view",
    "gone_warning",
    "history_changes",
    "import_id_candidates",
    "invalid",
    "planned_view",
    "redacted_config",
    "references_of",
    "resolve_config",
    "stored_state",
    "taint_reason",
    "warn_dependents",
    "warn_restored",
    "wire_lookup",
]

# Config attributes that commonly are the import id of the object they name; used only
# to recover a create whose worker died between the provider call and the commit.
_IDENTITY_ATTRIBUTES = ("id", "bucket", "name", "function_name", "identifier", "arn")


def stored_state(row: Resource) -> ResourceState | None:
    if row.state is None:
        return None
    return ResourceState(
        type_name=row.resource_type,
        schema_version=row.schema_version,
        attributes=row.state,
        private=row.private,
    )


def wire_lookup(attributes: Mapping[str, Any] | None, ref: Reference) -> Any:
    """Follow a reference's path through wire JSON; unknown markers become ``UNKNOWN``."""
    if attributes is None:
        raise ReferenceError(f"{ref}: {ref.resource_id} has no state yet")
    current: Any = attributes
    for i, part in enumerate(ref.path):
        if is_unknown_wire(current):
            return UNKNOWN
        where = ref.resource_id + format_path(ref.path[: i + 1])
        if isinstance(part, int):
            if not isinstance(current, list) or part >= len(current):
                raise ReferenceError(f"{ref}: {where} does not exist")
            current = current[part]
        elif isinstance(current, Mapping) and part in current:
            current = current[part]
        else:
            raise ReferenceError(
                f"{ref}: {where} is not an attribute of {ref.resource_id}; check the name "
                "with provider-resources-describe"
            )
    if is_unknown_wire(current):
        return UNKNOWN
    return current


def resolve_config(
    config: dict[str, Any] | None,
    values: Mapping[str, Mapping[str, Any] | None],
    deleted: set[str],
) -> dict[str, Any] | None:
    """``config`` with references resolved against ``values`` (resource id → wire state)."""
    if config is None:
        return None

    def lookup(ref: Reference) -> Any:
        if ref.resource_id in deleted:
            raise ReferenceError(
                f"{ref} refers to {ref.resource_id}, which this change deletes; remove the "
                "reference or keep the resource"
            )
        if ref.resource_id not in values:
            raise ReferenceError(
                f"{ref} refers to {ref.resource_id}, which is not in this project; create "
                "it first (or in the same change)"
            )
        return wire_lookup(values[ref.resource_id], ref)

    resolved = resolve_references(config, lookup, unknown=UNKNOWN)
    assert isinstance(resolved, dict)
    # A literal path on the worker host is checked when the change is submitted (admins
    # only); one arriving through a reference (a tag set to "/etc/...") is refused here.
    smuggled = sorted(set(local_file_paths(resolved)) - set(local_file_paths(config)))
    if smuggled:
        raise ReferenceError(
            f"{', '.join(smuggled)}: a reference resolves to a path on the worker host; file "
            "attributes take paths only as literal values, from a space admin (the "
            "credential-source rule, docs/security.md)"
        )
    return resolved


def check_sensitive_references(
    block: Block,
    config: dict[str, Any] | None,
    views: Mapping[str, Mapping[str, Any] | None],
) -> None:
    """Refuse a reference that would carry a sensitive value into a non-sensitive place.

    ``views`` are the redacted views of the referenced resources: a value shown as
    ``(sensitive)`` there is sensitive. Using it in an attribute that is not sensitive in
    this type's schema would show it in plans, state and history, so it is an error
    (Terraform tracks the same thing with value marks).
    """
    for attribute, ref in references_by_attribute(config or {}):
        current: Any = views.get(ref.resource_id)
        for part in ref.path:
            if current == SENSITIVE_DISPLAY:
                break  # a path into a sensitive map or object: all of it is sensitive
            if isinstance(part, int) and isinstance(current, list) and part < len(current):
                current = current[part]
            elif isinstance(part, str) and isinstance(current, Mapping):
                current = current.get(part)
            else:
                current = None
                break
        if not _holds_sensitive(current):
            continue
        target = block.attributes.get(attribute)
        if target is None or not target.sensitive:
            raise ReferenceError(
                f"{attribute}: {ref} is a sensitive value; {attribute} is not sensitive, so "
                "the value would show in plans, state and history. Use it only in "
                "sensitive attributes."
            )


def _holds_sensitive(value: Any) -> bool:
    """Whether a (redacted) value is, or contains, a sensitive one."""
    if value == SENSITIVE_DISPLAY:
        return True
    if isinstance(value, Mapping):
        return any(_holds_sensitive(v) for v in value.values())
    if isinstance(value, list):
        return any(_holds_sensitive(v) for v in value)
    return False


def references_of(request: OperationRequest) -> set[str]:
    return {ref.resource_id for ref in find_references(request.config or {})}


def action_of(change: PlannedChange) -> Action:
    value = change.action.value
    assert value in ("create", "update", "replace", "delete", "no-op")
    return value  # type: ignore[return-value]


def diagnostics_view(diagnostics: list[Diagnostic]) -> list[DiagnosticView]:
    return [
        DiagnosticView(
            severity=d.severity, summary=d.summary, detail=d.detail, attribute=d.attribute
        )
        for d in diagnostics
    ]


def error_view(exc: Exception) -> list[DiagnosticView]:
    if isinstance(exc, ProviderError) and exc.diagnostics:
        errors = [d for d in exc.diagnostics if d.severity == "error"] or list(exc.diagnostics)
        return diagnostics_view(errors)
    return [DiagnosticView(summary=str(exc))]


def redacted_config(
    client: ProviderClient, type_name: str, config: dict[str, Any] | None
) -> dict[str, Any] | None:
    """A user config with the schema's sensitive attributes masked (for history/output)."""
    if config is None:
        return None
    block = client.resource_schema(type_name).block
    value, diags = convert_config(block, config)
    if any(d.severity == "error" for d in diags) or not isinstance(value, dict):
        # Unconvertible configs are shown only by their keys: values may be secrets.
        return dict.fromkeys(config, "(not shown)")
    masked = redact(block, value)
    shown = to_user(masked)
    if not isinstance(shown, dict):
        return None
    return {k: v for k, v in shown.items() if k in config}


def planned_view(
    client: ProviderClient,
    request: OperationRequest,
    change: PlannedChange,
    *,
    depends_on: list[str],
    action: Action | None = None,
) -> PlannedOperation:
    type_name = request.resource_type
    before = client.user_view(type_name, change.prior.attributes) if change.prior else None
    after = client.user_view(type_name, change.planned)
    return PlannedOperation(
        index=request.index,
        kind=request.kind,
        resource_id=request.resource_id,
        resource_type=type_name,
        provider=client.installed.address.short,
        provider_version=client.installed.version,
        action=action or action_of(change),
        before=before,
        after=after,
        changed=[c.attribute for c in change.diff],
        replace_paths=list(change.replace_paths),
        replace_segments=[
            [str(s) if not isinstance(s, int) else s for s in p] for p in change.requires_replace
        ],
        unknown=[c.attribute for c in change.diff if c.after_unknown],
        depends_on=depends_on,
        diagnostics=diagnostics_view(change.warnings),
    )


def import_id_candidates(config: Mapping[str, Any] | None) -> list[str]:
    if not config:
        return []
    out: list[str] = []
    for name in _IDENTITY_ATTRIBUTES:
        value = config.get(name)
        if isinstance(value, str) and value and "${" not in value and value not in out:
            out.append(value)
    return out


def invalid(message: str) -> ApplicationError:
    """A change that cannot go on as asked: the workflow ends it (or holds it) with this."""
    return user_error(message, "InvalidChange")


def desired_config(request: OperationRequest, row: Resource | None) -> dict[str, Any] | None:
    """The whole config an operation asks for: an update's patch merged over the stored one."""
    if request.kind == "delete":
        return None
    if request.kind == "update":
        assert row is not None
        return merge_patch(row.config, request.config or {})
    return request.config or {}


def depends_on(
    request: OperationRequest,
    stored_deps: Mapping[str, set[str]],
    row: Resource | None = None,
) -> list[str]:
    """The resource ids an operation must come after (before, for a delete)."""
    deps = set(request.depends_on)
    if request.kind == "create":
        deps |= references_of(request)
    if request.kind == "update":
        # The whole config after the patch, not just the patch: an untouched
        # reference still orders this update after its target.
        merged = desired_config(request, row) if row is not None else request.config
        deps |= references_of(request.model_copy(update={"config": merged}))
        deps |= stored_deps.get(request.resource_id, set())
    if request.kind in ("delete", "refresh"):
        deps |= stored_deps.get(request.resource_id, set())
    deps.discard(request.resource_id)
    return sorted(deps)


def check_deletes(
    requests: list[OperationRequest],
    existing: Collection[str],
    stored_deps: Mapping[str, set[str]],
) -> dict[int, list[DiagnosticView]]:
    """Refuse deleting what something that stays (of ``existing``) still references."""
    deleted = {r.resource_id for r in requests if r.kind == "delete"}
    errors: dict[int, list[DiagnosticView]] = {}
    for request in requests:
        if request.kind != "delete":
            continue
        users = sorted(
            rid
            for rid, deps in stored_deps.items()
            if request.resource_id in deps and rid not in deleted and rid in existing
        )
        if users:
            errors[request.index] = [
                DiagnosticView(
                    summary=f"deleting {request.resource_id} is refused: "
                    f"{', '.join(users)} still depend(s) on it; delete them in the same "
                    "change or remove the reference/dependency first"
                )
            ]
    return errors


def check_existence(request: OperationRequest, row: Resource | None, change_id: str) -> None:
    """What an operation needs to exist (or not) in state; ``ValueError`` names the fix."""
    if (
        request.kind == "create"
        and row is not None
        and row.last_change_id == change_id
        and row.status in ("tainted", "missing")
    ):
        return  # a retry of this change's own create that got partway: plan from there
    if request.kind in ("create", "import") and row is not None:
        raise ValueError(
            f"{request.resource_id} already exists in this project (a "
            f"{row.resource_type}); update it, or pick another resource id"
        )
    if request.kind in ("update", "delete", "refresh") and row is None:
        raise ValueError(
            f"{request.resource_id} is not in this project's state; list resources with state-list"
        )
    if (
        request.kind in ("update", "delete", "refresh")
        and row is not None
        and row.resource_type != request.resource_type
    ):
        raise ValueError(
            f"{request.resource_id} is a {row.resource_type}, not a {request.resource_type}"
        )


def gone_warning(request: OperationRequest, state: object | None) -> list[DiagnosticView]:
    """A refresh that finds the object deleted outside intent says what happens next."""
    if request.kind != "refresh" or state is not None:
        return []
    return [
        DiagnosticView(
            severity="warning",
            summary=f"{request.resource_id} was deleted outside intent: it stays in the "
            "project marked missing (its configuration kept); update it to create it again, "
            "or delete it from intent",
        )
    ]


def warn_restored(view: PlannedOperation, request: OperationRequest) -> PlannedOperation:
    """A rollback re-creating a deleted resource brings back its configuration, not what
    it held: say so plainly in the plan."""
    if request.restore is None or request.kind != "create":
        return view
    warning = DiagnosticView(
        severity="warning",
        summary=f"{request.resource_id} is re-created from its last recorded configuration: "
        "the data it held (objects, items, values, backups) is not restored",
    )
    return view.model_copy(update={"diagnostics": [*view.diagnostics, warning]})


def taint_reason(row: Resource | None) -> str | None:
    """Why an existing object must be replaced rather than updated, if it must.

    A create that failed part-way leaves its object ``tainted``: nobody knows which of
    its settings took, so (as Terraform does) the next change that touches it replaces
    it, confirmed like any other replacement.
    """
    if row is not None and row.status == "tainted" and row.state is not None:
        return "it was left tainted by a create that failed part-way, so it is replaced"
    return None


def warn_dependents(
    view: PlannedOperation,
    stored_deps: Mapping[str, set[str]],
    in_change: Mapping[int, OperationRequest],
) -> PlannedOperation:
    """A replacement gets a new identity: resources referring to it (and not part of
    this change) keep the old values until they are applied again. Say so."""
    if view.action != "replace":
        return view
    changing = {r.resource_id for r in in_change.values()}
    users = sorted(
        rid for rid, deps in stored_deps.items() if view.resource_id in deps and rid not in changing
    )
    if not users:
        return view
    warning = DiagnosticView(
        severity="warning",
        summary=f"{', '.join(users)} refer(s) to {view.resource_id}, which is replaced: "
        "update them afterwards (an update with an empty config re-plans them) so they "
        "point at the new object",
    )
    return view.model_copy(update={"diagnostics": [*view.diagnostics, warning]})


# A history row keeps at most this many attribute changes (a create of a big object).
_MAX_RECORDED_CHANGES = 200
# Besides what was configured, a create or import row names the object it made.
_CREATED_HEADLINE = frozenset({"id", "arn"})


def history_changes(
    client: ProviderClient,
    type_name: str,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
    action: str,
    config: Mapping[str, Any] | None,
) -> list[dict[str, Any]]:
    """What an applied operation changed, attribute by attribute, for its history row.

    ``before``/``after`` are wire states. Sensitive values are redacted (the entry says
    ``sensitive``, so a changed secret still shows as changed). A create or import lists
    what was configured (plus id/arn), not every attribute the provider computed; a
    delete lists nothing (the row's ``before`` holds what was deleted)."""
    if action in ("delete", "gone") or after is None:
        return []
    schema = client.resource_schema(type_name)
    changes = diff(
        schema.block,
        from_wire(dict(before), schema.implied_type) if before else None,
        from_wire(dict(after), schema.implied_type),
    )
    if action in ("create", "import"):
        wanted = set(config or {}) | _CREATED_HEADLINE
        changes = [c for c in changes if str(c.path[0]) in wanted]
    out: list[dict[str, Any]] = []
    for change in changes[:_MAX_RECORDED_CHANGES]:
        entry = {"attribute": change.attribute, "before": change.before, "after": change.after}
        if change.sensitive:
            entry["sensitive"] = True
        out.append(entry)
    return out


def config_from_state(
    client: ProviderClient, type_name: str, state: ResourceState
) -> dict[str, Any]:
    """A config for an imported object, as Terraform's config generation makes one.

    Every user-settable attribute with a value (optional+computed ones too, so
    "exactly one of" rules hold and the next plan is a no-op), except ``id``,
    deprecated and write-only attributes, and empty optional values (the legacy
    SDK treats them as unset). Nested blocks are left to the user.
    """
    block = client.resource_schema(type_name).block
    view = client.user_view(type_name, state.attributes, redact_sensitive=False) or {}
    config: dict[str, Any] = {}
    for name, attr in block.attributes.items():
        value = view.get(name)
        if name == "id" or not attr.configurable or attr.write_only or attr.deprecated:
            continue
        if value is None or (not attr.required and value in ("", {}, [])):
            continue
        config[name] = value
    return config
