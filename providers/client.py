"""Operations on one configured provider process: validate, plan, apply, import, read.

``ProviderClient`` is what the rest of intent uses (usually obtained from
``ProviderPool.client(...)``). It speaks in JSON-safe models (``providers.results``)
and does what Terraform core does around each RPC:

- stored state is upgraded (``UpgradeResourceState``) every time it is loaded;
- a plan refreshes first (``ReadResource``), validates the config, computes the
  proposed new state, plans, drops ``requires_replace`` paths that do not change,
  and for a replacement plans the new object again from a null prior;
- an apply re-plans with the final config (which must then be wholly known) and
  checks the final plan against the approved one, then applies and checks the result
  against the plan (relaxed to logged warnings for legacy-SDK providers);
- private bytes go plan → apply → stored state → read → next plan untouched.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from providers import codec
from providers._protocol import MSGPACK_NULL, PlanResponse
from providers.codec import UNKNOWN, contains_unknown, from_wire, to_user, to_wire
from providers.config import convert_config
from providers.errors import (
    Diagnostic,
    ProviderApplyError,
    ProviderError,
    errors_in,
)
from providers.launcher import ProviderProcess
from providers.plan import (
    ChangeAction,
    compatibility_problems,
    decide_action,
    diff,
    effective_replace_paths,
    plan_problems,
    planned_data_source_object,
    proposed_new,
    redact,
    write_only_problems,
)
from providers.results import (
    ApplyResult,
    DataSourceResult,
    ImportResult,
    PlannedChange,
    ReadResult,
    ResourceState,
    b64decode,
    b64encode,
)
from providers.schema import ProviderSchema, ResourceTypeDescription, Schema

__all__ = ["TERRAFORM_VERSION", "ProviderClient"]

log = logging.getLogger(__name__)
# Core's plan/apply consistency findings that legacy-SDK providers get away with.
legacy_log = logging.getLogger("providers.legacy_sdk")

# What we tell providers in Configure: they expect a Terraform version and some gate
# features on it. We implement the protocol as Terraform 1.11 does.
TERRAFORM_VERSION = "1.11.4"

_DEFERRED_REASONS = {
    0: "unknown reason",
    1: "resource config unknown",
    2: "provider config unknown",
    3: "absent prerequisite",
}

T = TypeVar("T")


class ProviderClient:
    """A provider process plus its schema, with Terraform-core semantics on top.

    Calls may run concurrently; at most ``concurrency`` RPCs are in flight at once.
    """

    def __init__(
        self,
        process: ProviderProcess,
        schema: ProviderSchema,
        *,
        concurrency: int = 8,
    ) -> None:
        self.process = process
        self.schema = schema
        self.installed = process.installed
        self.label = f"{self.installed.address.short} {self.installed.version}"
        self._sem = asyncio.Semaphore(max(1, concurrency))
        self.configured = False
        self.in_flight = 0
        self.last_used = time.monotonic()
        self._tolerated: set[tuple[str, str, str, str]] = set()

    # -- plumbing ---------------------------------------------------------------------
    @property
    def protocol_version(self) -> int:
        return self.process.protocol_version

    @property
    def alive(self) -> bool:
        return self.process.alive

    @contextlib.asynccontextmanager
    async def _slot(self) -> AsyncIterator[None]:
        async with self._sem:
            self.in_flight += 1
            try:
                yield
            finally:
                self.in_flight -= 1
                self.last_used = time.monotonic()

    async def _call(self, fn: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
        async with self._slot():
            return await fn(*args, **kwargs)

    def _meta(self) -> bytes | None:
        # Providers with a provider_meta schema expect the (null) meta value.
        return MSGPACK_NULL if self.schema.provider_meta is not None else None

    def _fail(self, operation: str, diags: list[Diagnostic]) -> ProviderError:
        return ProviderError.from_diagnostics(operation, diags, provider=self.label)

    def _check(self, operation: str, diags: list[Diagnostic]) -> list[Diagnostic]:
        """Raise on error diagnostics; return the warnings."""
        if errors_in(diags):
            raise self._fail(operation, diags)
        return [d for d in diags if d.severity == "warning"]

    def _deferred(self, operation: str, reason: int | None) -> None:
        if reason is not None:
            why = _DEFERRED_REASONS.get(reason, str(reason))
            raise ProviderError(
                f"{operation}: the provider deferred the change ({why}); intent does not "
                "support deferred changes — make the configuration fully known and retry",
                provider=self.label,
                operation=operation,
            )

    def _relaxed(
        self, operation: str, problems: list[Diagnostic], legacy: bool, type_name: str
    ) -> None:
        """Core's plan/apply checks: errors, or logged warnings for the legacy SDK."""
        if not problems:
            return
        if legacy:
            self._tolerate(operation, type_name, problems)
            return
        what = "an invalid plan" if operation == "plan" else "an inconsistent result"
        raise ProviderError(
            f"Provider produced {what} for {type_name}; this is a bug in the provider",
            problems,
            provider=self.label,
            operation=operation,
        )

    def _tolerate(self, operation: str, type_name: str, problems: list[Diagnostic]) -> None:
        # Legacy-SDK providers (SDKv2) routinely plan defaults for unset optional
        # attributes and the like; core tolerates that and only logs it. We log each
        # distinct quirk once per process so the log stays readable.
        for p in problems:
            key = (operation, type_name, p.attribute or "", p.summary)
            if key in self._tolerated:
                continue
            self._tolerated.add(key)
            legacy_log.warning(
                "%s %s for %s: tolerating legacy-SDK inconsistency: %s",
                self.label,
                operation,
                type_name,
                p,
            )

    # -- schema -----------------------------------------------------------------------
    def resource_schema(self, type_name: str) -> Schema:
        return self.schema.resource(type_name)

    def data_source_schema(self, type_name: str) -> Schema:
        return self.schema.data_source(type_name)

    def describe_resource(self, type_name: str) -> ResourceTypeDescription:
        return self.schema.describe_resource(
            type_name, provider=self.installed.address.short, version=self.installed.version
        )

    def user_view(
        self, type_name: str, attributes: dict[str, Any] | None, *, redact_sensitive: bool = True
    ) -> dict[str, Any] | None:
        """Stored/planned wire JSON as people read it: sensitive values redacted,
        unknowns shown as "(known after apply)"."""
        if attributes is None:
            return None
        schema = self.resource_schema(type_name)
        value = from_wire(attributes, schema.implied_type)
        if redact_sensitive:
            value = redact(schema.block, value)
        result = to_user(value)
        assert isinstance(result, dict)
        return result

    def _convert(
        self, schema: Schema, config: dict[str, Any], what: str
    ) -> tuple[Any, list[Diagnostic]]:
        value, diags = convert_config(schema.block, config)
        if errors_in(diags):
            raise ProviderError(
                f"{what} config is invalid", diags, provider=self.label, operation="validate"
            )
        return value, diags

    def _encode(self, schema: Schema, value: Any) -> bytes:
        return codec.encode(value, schema.implied_type)

    def _decode(self, schema: Schema, data: bytes) -> Any:
        return codec.decode(data, schema.implied_type)

    def _state(self, type_name: str, schema: Schema, value: Any, private: bytes) -> ResourceState:
        return ResourceState(
            type_name=type_name,
            schema_version=schema.version,
            attributes=to_wire(value, schema.implied_type),
            private=b64encode(private),
        )

    # -- provider configuration -------------------------------------------------------
    async def validate_provider_config(self, config: dict[str, Any] | None) -> list[Diagnostic]:
        value, diags = convert_config(self.schema.provider.block, config or {})
        if errors_in(diags):
            return diags
        mp = codec.encode(value, self.schema.provider.implied_type)
        return diags + await self._call(self.process.rpc.validate_provider_config, mp)

    async def configure(
        self, config: dict[str, Any] | None, *, validate: bool = True
    ) -> list[Diagnostic]:
        """Configure the provider (once per process). Returns warnings."""
        if self.configured:
            raise RuntimeError(f"{self.label} is already configured")
        value, diags = convert_config(self.schema.provider.block, config or {})
        if errors_in(diags):
            raise ProviderError("provider configuration is invalid", diags, provider=self.label)
        if contains_unknown(value):
            raise ProviderError("provider configuration must be fully known", provider=self.label)
        mp = codec.encode(value, self.schema.provider.implied_type)
        warnings = [d for d in diags if d.severity == "warning"]
        if validate:
            warnings += self._check(
                "ValidateProviderConfig",
                await self._call(self.process.rpc.validate_provider_config, mp),
            )
        warnings += self._check(
            "ConfigureProvider",
            await self._call(self.process.rpc.configure, mp, TERRAFORM_VERSION),
        )
        self.configured = True
        return warnings

    # -- validation -------------------------------------------------------------------
    async def validate_resource_config(
        self, type_name: str, config: dict[str, Any]
    ) -> list[Diagnostic]:
        """All diagnostics (errors and warnings) for a resource config: ours (names,
        types, required/read-only attributes) and the provider's."""
        schema = self.resource_schema(type_name)
        value, diags = convert_config(schema.block, config)
        if errors_in(diags):
            return diags
        return diags + await self._call(
            self.process.rpc.validate_resource_config, type_name, self._encode(schema, value)
        )

    async def validate_data_source_config(
        self, type_name: str, config: dict[str, Any]
    ) -> list[Diagnostic]:
        schema = self.data_source_schema(type_name)
        value, diags = convert_config(schema.block, config)
        if errors_in(diags):
            return diags
        return diags + await self._call(
            self.process.rpc.validate_data_source_config, type_name, self._encode(schema, value)
        )

    # -- state upgrade and refresh ----------------------------------------------------
    async def upgrade_state(self, state: ResourceState) -> tuple[Any, bytes, list[Diagnostic]]:
        """Decode stored state in the current schema (``UpgradeResourceState``).

        Returns (value, private bytes, warnings).
        """
        schema = self.resource_schema(state.type_name)
        raw = json.dumps(state.attributes, separators=(",", ":")).encode()
        mp, diags = await self._call(
            self.process.rpc.upgrade_resource_state, state.type_name, state.schema_version, raw
        )
        warnings = self._check("UpgradeResourceState", diags)
        return self._decode(schema, mp), b64decode(state.private), warnings

    async def _read_value(
        self, type_name: str, schema: Schema, value: Any, private: bytes
    ) -> tuple[Any, bytes, list[Diagnostic]]:
        new_mp, new_private, diags, deferred = await self._call(
            self.process.rpc.read_resource,
            type_name,
            self._encode(schema, value),
            private,
            self._meta(),
        )
        warnings = self._check("ReadResource", diags)
        self._deferred("ReadResource", deferred)
        new_value = self._decode(schema, new_mp)
        if contains_unknown(new_value):
            raise self._fail(
                "ReadResource", [Diagnostic.error("Provider returned unknown values from a read")]
            )
        self._check("ReadResource", write_only_problems(schema.write_only_paths, new_value))
        return new_value, new_private, warnings

    async def read(self, state: ResourceState) -> ReadResult:
        """Refresh: the object's current state, or ``state=None`` if it was deleted
        outside intent; ``drift`` lists what changed since ``state``."""
        schema = self.resource_schema(state.type_name)
        value, private, warnings = await self.upgrade_state(state)
        new_value, new_private, w2 = await self._read_value(state.type_name, schema, value, private)
        drift = diff(schema.block, value, new_value)
        new_state = (
            None
            if new_value is None
            else self._state(state.type_name, schema, new_value, new_private)
        )
        return ReadResult(
            type_name=state.type_name, state=new_state, drift=drift, warnings=warnings + w2
        )

    # -- planning ---------------------------------------------------------------------
    async def _plan_rpc(
        self,
        type_name: str,
        schema: Schema,
        prior: Any,
        proposed: Any,
        config: Any,
        prior_private: bytes,
    ) -> tuple[Any, PlanResponse, list[Diagnostic]]:
        resp = await self._call(
            self.process.rpc.plan_resource_change,
            type_name,
            self._encode(schema, prior),
            self._encode(schema, proposed),
            self._encode(schema, config),
            prior_private,
            self._meta(),
        )
        warnings = self._check("PlanResourceChange", resp.diagnostics)
        self._deferred("PlanResourceChange", resp.deferred)
        planned = self._decode(schema, resp.planned_state)
        self._check("PlanResourceChange", write_only_problems(schema.write_only_paths, planned))
        self._relaxed(
            "plan",
            plan_problems(schema.block, prior, config, planned),
            resp.legacy_type_system,
            type_name,
        )
        return planned, resp, warnings

    async def plan(
        self,
        type_name: str,
        prior: ResourceState | None,
        config: dict[str, Any] | None,
        *,
        refresh: bool = True,
        create_before_destroy: bool = False,
        force_replace: bool = False,
    ) -> PlannedChange:
        """Plan one resource change.

        ``prior`` is the stored state (None to create); ``config`` the desired config
        as user JSON, which may hold unknowns (``UNKNOWN`` or ``{"$unknown": true}``)
        for values that depend on other resources of the same change; None plans a
        delete. With ``refresh`` (the default, as in Terraform) the prior state is
        read first, so drift and objects deleted outside are taken into account.
        ``force_replace`` replaces an existing object even where an in-place update
        would do (Terraform's tainted objects, and ``-replace``).
        """
        schema = self.resource_schema(type_name)
        block = schema.block
        warnings: list[Diagnostic] = []
        prior_value: Any = None
        prior_private = b""
        drift = []
        gone = False
        if prior is not None:
            if prior.type_name != type_name:
                raise ValueError(f"prior state is a {prior.type_name}, not a {type_name}")
            upgraded, prior_private, w = await self.upgrade_state(prior)
            warnings += w
            if refresh:
                prior_value, prior_private, w = await self._read_value(
                    type_name, schema, upgraded, prior_private
                )
                warnings += w
                drift = diff(block, upgraded, prior_value)
                gone = prior_value is None
            else:
                prior_value = upgraded
        prior_state = (
            None
            if prior_value is None
            else self._state(type_name, schema, prior_value, prior_private)
        )

        def change(**kw: Any) -> PlannedChange:
            return PlannedChange(
                type_name=type_name,
                schema_version=schema.version,
                prior=prior_state,
                drift=drift,
                prior_gone=gone,
                warnings=warnings,
                **kw,
            )

        if config is None:
            if prior_value is None:
                return change(action=ChangeAction.NO_OP)
            planned_private = prior_private
            if self.schema.capabilities.plan_destroy:
                planned, resp, w = await self._plan_rpc(
                    type_name, schema, prior_value, None, None, prior_private
                )
                warnings += w
                if planned is not None:
                    raise self._fail(
                        "PlanResourceChange",
                        [Diagnostic.error("Provider planned a non-null object for a delete")],
                    )
                planned_private = resp.planned_private
            return change(
                action=ChangeAction.DELETE,
                planned_private=b64encode(planned_private),
                diff=diff(block, prior_value, None),
            )

        config_value, w = self._convert(schema, config, type_name)
        warnings += w
        warnings += self._check(
            "ValidateResourceConfig",
            await self._call(
                self.process.rpc.validate_resource_config,
                type_name,
                self._encode(schema, config_value),
            ),
        )
        proposed = proposed_new(block, prior_value, config_value)
        planned, resp, w = await self._plan_rpc(
            type_name, schema, prior_value, proposed, config_value, prior_private
        )
        warnings += w
        replace = (
            effective_replace_paths(block, prior_value, planned, resp.requires_replace)
            if prior_value is not None
            else []
        )
        action = decide_action(block, prior_value, config_value, planned, replace)
        if force_replace and prior_value is not None:
            action = ChangeAction.REPLACE
        planned_private = resp.planned_private
        legacy = resp.legacy_type_system
        if action == ChangeAction.REPLACE:
            # The replacement is a new object: plan it from a null prior, as core does.
            created = proposed_new(block, None, config_value)
            planned_new, resp2, w = await self._plan_rpc(
                type_name, schema, None, created, config_value, b""
            )
            warnings += w
            changes = diff(block, prior_value, planned_new, replace)
            planned, planned_private = planned_new, resp2.planned_private
        else:
            changes = diff(block, prior_value, planned, replace)
        ty = schema.implied_type
        return change(
            action=action,
            replace_order=(
                ("create_then_delete" if create_before_destroy else "delete_then_create")
                if action == ChangeAction.REPLACE
                else None
            ),
            config=to_wire(config_value, ty),
            planned=to_wire(planned, ty),
            planned_private=b64encode(planned_private),
            requires_replace=replace,
            diff=changes,
            config_has_unknowns=contains_unknown(config_value),
            legacy_type_system=legacy,
        )

    # -- apply ------------------------------------------------------------------------
    async def _final_plan(
        self,
        type_name: str,
        schema: Schema,
        prior: Any,
        prior_private: bytes,
        config_value: Any,
        approved: Any,
    ) -> tuple[Any, bytes, bool, list[Diagnostic]]:
        """Re-plan with the final config right before applying, as core does, and
        check the result against the plan that was approved."""
        if contains_unknown(config_value):
            raise ProviderError(
                f"cannot apply {type_name}: its config still has unknown values; pass the "
                "final config (with the values of the resources it depends on) to apply",
                provider=self.label,
                operation="apply",
            )
        proposed = proposed_new(schema.block, prior, config_value)
        planned, resp, warnings = await self._plan_rpc(
            type_name, schema, prior, proposed, config_value, prior_private
        )
        problems = compatibility_problems(schema.block, approved, planned)
        if problems and not resp.legacy_type_system:
            raise ProviderError(
                f"Provider produced inconsistent final plan for {type_name}: the plan made at "
                "apply time differs from the approved plan; re-plan the change",
                problems,
                provider=self.label,
                operation="apply",
            )
        self._tolerate("final plan", type_name, problems)
        return planned, resp.planned_private, resp.legacy_type_system, warnings

    async def _apply_rpc(
        self,
        type_name: str,
        schema: Schema,
        action: ChangeAction,
        prior: Any,
        prior_private: bytes,
        planned: Any,
        config: Any,
        planned_private: bytes,
        legacy: bool,
    ) -> tuple[ResourceState | None, list[Diagnostic]]:
        resp = await self._call(
            self.process.rpc.apply_resource_change,
            type_name,
            self._encode(schema, prior),
            self._encode(schema, planned),
            self._encode(schema, config),
            planned_private,
            self._meta(),
        )
        diags = list(resp.diagnostics)
        if resp.new_state:
            new_value = self._decode(schema, resp.new_state)
            new_private = resp.private
        else:
            # No object in the response at all (not even null): nothing changed.
            new_value, new_private = prior, prior_private
        if contains_unknown(new_value):
            diags.append(
                Diagnostic.error(
                    "Provider returned invalid result object after apply",
                    "The result contains unknown values; they were stored as null.",
                )
            )
            new_value = _unknowns_to_null(new_value)
        diags += write_only_problems(schema.write_only_paths, new_value)
        state = (
            None if new_value is None else self._state(type_name, schema, new_value, new_private)
        )
        if errors_in(diags):
            result = ApplyResult(type_name=type_name, action=action, state=state, warnings=[])
            raise ProviderApplyError(
                f"apply of {type_name} failed: {errors_in(diags)[0].summary}",
                diags,
                result=result,
                provider=self.label,
                operation="ApplyResourceChange",
            )
        problems = compatibility_problems(schema.block, planned, new_value)
        if problems and not (legacy or resp.legacy_type_system):
            result = ApplyResult(type_name=type_name, action=action, state=state)
            raise ProviderApplyError(
                f"Provider produced inconsistent result after apply of {type_name}; the object "
                "was saved as the provider returned it. This is a bug in the provider",
                problems,
                result=result,
                provider=self.label,
                operation="ApplyResourceChange",
            )
        self._tolerate("apply", type_name, problems)
        return state, [d for d in diags if d.severity == "warning"]

    async def apply(
        self, change: PlannedChange, config: dict[str, Any] | None = None
    ) -> ApplyResult:
        """Apply a planned change; returns the state to store.

        ``config`` is the final config as user JSON; required when the plan's config had
        unknowns, optional otherwise (defaults to the planned config). On failure raises
        ``ProviderApplyError`` whose ``result`` holds the state to store anyway.
        """
        type_name = change.type_name
        schema = self.resource_schema(type_name)
        if change.schema_version != schema.version:
            raise ProviderError(
                f"the plan for {type_name} was made with schema version {change.schema_version}, "
                f"the provider now has {schema.version}; re-plan the change",
                provider=self.label,
                operation="apply",
            )
        ty = schema.implied_type
        prior = from_wire(change.prior.attributes, ty) if change.prior else None
        prior_private = b64decode(change.prior.private) if change.prior else b""
        approved = from_wire(change.planned, ty) if change.planned is not None else None
        planned_private = b64decode(change.planned_private)
        if config is not None:
            config_value, _ = self._convert(schema, config, type_name)
        else:
            config_value = from_wire(change.config, ty) if change.config is not None else None

        if change.action == ChangeAction.NO_OP:
            return ApplyResult(type_name=type_name, action=change.action, state=change.prior)

        if change.action == ChangeAction.DELETE:
            state, warnings = await self._delete(
                type_name, schema, prior, prior_private, planned_private
            )
            return ApplyResult(
                type_name=type_name, action=change.action, state=state, warnings=warnings
            )

        if change.action in (ChangeAction.CREATE, ChangeAction.UPDATE):
            planned, private, legacy, warnings = await self._final_plan(
                type_name, schema, prior, prior_private, config_value, approved
            )
            state, w = await self._apply_rpc(
                type_name,
                schema,
                change.action,
                prior,
                prior_private,
                planned,
                config_value,
                private,
                legacy,
            )
            return ApplyResult(
                type_name=type_name, action=change.action, state=state, warnings=warnings + w
            )

        # Replace: the delete half and the create half, in the planned order.
        assert change.action == ChangeAction.REPLACE
        warnings = []
        if change.replace_order == "create_then_delete":
            planned, private, legacy, w = await self._final_plan(
                type_name, schema, None, b"", config_value, approved
            )
            warnings += w
            new_state, w = await self._apply_rpc(
                type_name, schema, change.action, None, b"", planned, config_value, private, legacy
            )
            warnings += w
            try:
                _, w = await self._delete(type_name, schema, prior, prior_private, prior_private)
                warnings += w
            except ProviderApplyError as exc:
                old = exc.result.state if isinstance(exc.result, ApplyResult) else change.prior
                exc.result = ApplyResult(
                    type_name=type_name, action=change.action, state=new_state, deposed=old
                )
                raise
            return ApplyResult(
                type_name=type_name, action=change.action, state=new_state, warnings=warnings
            )

        # delete_then_create: plan the create before destroying anything, so a bad
        # config fails while the old object still exists.
        planned, private, legacy, w = await self._final_plan(
            type_name, schema, None, b"", config_value, approved
        )
        warnings += w
        _, w = await self._delete(type_name, schema, prior, prior_private, prior_private)
        warnings += w
        try:
            new_state, w = await self._apply_rpc(
                type_name, schema, change.action, None, b"", planned, config_value, private, legacy
            )
        except ProviderApplyError as exc:
            if isinstance(exc.result, ApplyResult):
                exc.result = exc.result.model_copy(update={"action": change.action})
            raise
        return ApplyResult(
            type_name=type_name, action=change.action, state=new_state, warnings=warnings + w
        )

    async def _delete(
        self,
        type_name: str,
        schema: Schema,
        prior: Any,
        prior_private: bytes,
        planned_private: bytes,
    ) -> tuple[ResourceState | None, list[Diagnostic]]:
        if prior is None:
            return None, []
        state, warnings = await self._apply_rpc(
            type_name,
            schema,
            ChangeAction.DELETE,
            prior,
            prior_private,
            None,
            None,
            planned_private,
            True,
        )
        if state is not None:
            raise ProviderApplyError(
                f"delete of {type_name} did not remove the object",
                [Diagnostic.error("Provider returned an object after delete")],
                result=ApplyResult(type_name=type_name, action=ChangeAction.DELETE, state=state),
                provider=self.label,
                operation="ApplyResourceChange",
            )
        return None, warnings

    # -- import -----------------------------------------------------------------------
    async def import_resource(self, type_name: str, import_id: str) -> ImportResult:
        """Import an existing object by its provider id and read it."""
        self.resource_schema(type_name)  # fail early on unknown types
        objs, diags, deferred = await self._call(
            self.process.rpc.import_resource_state, type_name, import_id
        )
        warnings = self._check("ImportResourceState", diags)
        self._deferred("ImportResourceState", deferred)
        if not objs:
            raise ProviderError(
                f"the provider imported nothing for {type_name} {import_id!r}",
                provider=self.label,
                operation="import",
            )
        objs.sort(key=lambda o: o.type_name != type_name)
        states: list[ResourceState] = []
        for obj in objs:
            schema = self.resource_schema(obj.type_name)
            value = self._decode(schema, obj.state)
            new_value, new_private, w = await self._read_value(
                obj.type_name, schema, value, obj.private
            )
            warnings += w
            if new_value is None:
                raise ProviderError(
                    f"Cannot import non-existent remote object: {obj.type_name} with id "
                    f"{import_id!r} does not exist (check the id, and the provider's region "
                    "and account)",
                    provider=self.label,
                    operation="import",
                )
            states.append(self._state(obj.type_name, schema, new_value, new_private))
        return ImportResult(
            type_name=type_name, import_id=import_id, states=states, warnings=warnings
        )

    # -- data sources -----------------------------------------------------------------
    async def read_data_source(self, type_name: str, config: dict[str, Any]) -> DataSourceResult:
        """Read a data source. With unknowns in ``config`` it cannot run yet: the
        result is ``deferred`` and shows config values with unknowns elsewhere."""
        schema = self.data_source_schema(type_name)
        config_value, warnings = self._convert(schema, config, type_name)
        warnings += self._check(
            "ValidateDataSourceConfig",
            await self._call(
                self.process.rpc.validate_data_source_config,
                type_name,
                self._encode(schema, config_value),
            ),
        )
        ty = schema.implied_type
        if contains_unknown(config_value):
            planned = planned_data_source_object(schema.block, config_value)
            return DataSourceResult(
                type_name=type_name, state=to_wire(planned, ty), deferred=True, warnings=warnings
            )
        mp, diags, deferred = await self._call(
            self.process.rpc.read_data_source,
            type_name,
            self._encode(schema, config_value),
            self._meta(),
        )
        warnings += self._check("ReadDataSource", diags)
        self._deferred("ReadDataSource", deferred)
        value = self._decode(schema, mp)
        if contains_unknown(value):
            raise self._fail(
                "ReadDataSource", [Diagnostic.error("Provider returned unknown values from a read")]
            )
        return DataSourceResult(type_name=type_name, state=to_wire(value, ty), warnings=warnings)


def _unknowns_to_null(value: Any) -> Any:
    if value is UNKNOWN:
        return None
    if isinstance(value, list):
        return [_unknowns_to_null(v) for v in value]
    if isinstance(value, dict):
        return {k: _unknowns_to_null(v) for k, v in value.items()}
    return value
