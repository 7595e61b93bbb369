"""Planning the way Terraform core does it, on our Python cty values.

- ``proposed_new``: the proposed new state sent to ``PlanResourceChange`` — config
  values where the user set them, prior values for computed attributes the config
  leaves null, nested blocks correlated by index (lists), key (maps) or by their
  non-computed content (sets).
- ``plan_problems`` / ``compatibility_problems``: the checks core makes on what a
  provider planned (plan must honour the config) and applied (result must match the
  plan). Providers on the legacy SDK type system get these as warnings, like core.
- ``effective_replace_paths`` and ``decide_action``: which ``requires_replace`` paths
  really change, and the resulting action.
- ``diff``: attribute-level before/after changes for users and policies, with
  sensitive values redacted and unknowns flagged.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from providers.codec import UNKNOWN, UNKNOWN_DISPLAY, Typed, _is_number, contains_unknown, to_user
from providers.config import block_empty_value
from providers.ctytype import (
    CtyType,
    DynamicType,
    ListType,
    MapType,
    ObjectType,
    SetType,
    TupleType,
)
from providers.errors import AttributePath, Diagnostic, MapKey, format_path
from providers.schema import Attribute, Block, NestedBlock, NestedType

__all__ = [
    "SENSITIVE_DISPLAY",
    "AttributeChange",
    "ChangeAction",
    "compatibility_problems",
    "decide_action",
    "diff",
    "effective_replace_paths",
    "plan_problems",
    "planned_data_source_object",
    "proposed_new",
    "redact",
    "type_at",
    "value_at",
    "values_equal",
    "write_only_problems",
]

# The same marker the policy input uses (policies.input.SENSITIVE): one word everywhere.
SENSITIVE_DISPLAY = "(sensitive)"


class ChangeAction(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    REPLACE = "replace"
    DELETE = "delete"
    NO_OP = "no-op"


# ------------------------------------------------------------------------------------
# Equality (type-aware: sets are unordered, numbers compare exactly)
# ------------------------------------------------------------------------------------


def values_equal(a: Any, b: Any, ty: CtyType | None = None) -> bool:
    """Structural equality of two values of type ``ty``. Unknown equals only unknown
    (like cty's RawEquals); set elements are compared without regard to order."""
    if a is UNKNOWN or b is UNKNOWN:
        return a is b
    if a is None or b is None:
        return a is b
    if isinstance(a, Typed) or isinstance(b, Typed):
        ta = a.type if isinstance(a, Typed) else None
        tb = b.type if isinstance(b, Typed) else None
        if ta is not None and tb is not None and ta != tb:
            return False
        inner = ta or tb
        return values_equal(
            a.value if isinstance(a, Typed) else a, b.value if isinstance(b, Typed) else b, inner
        )
    if isinstance(ty, DynamicType):
        ty = None
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if _is_number(a) and _is_number(b):
        return _dec(a) == _dec(b)
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return False
        if isinstance(ty, SetType):
            return _multiset_equal(a, b, ty.element)
        if isinstance(ty, TupleType):
            return all(values_equal(x, y, t) for x, y, t in zip(a, b, ty.elements, strict=True))
        ety = ty.element if isinstance(ty, ListType) else None
        return all(values_equal(x, y, ety) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            return False
        for k in a:
            if isinstance(ty, ObjectType):
                sub: CtyType | None = ty.attributes.get(k)
            elif isinstance(ty, MapType):
                sub = ty.element
            else:
                sub = None
            if not values_equal(a[k], b[k], sub):
                return False
        return True
    return type(a) is type(b) and bool(a == b)


def _dec(n: Any) -> Decimal:
    return n if isinstance(n, Decimal) else Decimal(n)


def _multiset_equal(a: list[Any], b: list[Any], ety: CtyType) -> bool:
    used = [False] * len(b)
    for x in a:
        for i, y in enumerate(b):
            if not used[i] and values_equal(x, y, ety):
                used[i] = True
                break
        else:
            return False
    return True


# ------------------------------------------------------------------------------------
# Proposed new state (Terraform's objchange.ProposedNew)
# ------------------------------------------------------------------------------------


def _get(obj: Any, name: str) -> Any:
    if obj is UNKNOWN:
        return UNKNOWN
    if isinstance(obj, dict):
        return obj.get(name)
    return None


def proposed_new(block: Block, prior: Any, config: Any) -> Any:
    """Combine prior state and config into the proposed new state.

    ``prior`` must be wholly known (or None for a create); ``config`` may contain
    unknowns.
    """
    if config is None and prior is None:
        return None
    if prior is None:
        prior = block_empty_value(block)
    return _proposed_block(block, prior, config)


def planned_data_source_object(block: Block, config: Any) -> Any:
    """What a data source read will produce, before it can run: config values where
    set, unknown for everything computed (Terraform's PlannedDataResourceObject)."""
    return _proposed_block(block, UNKNOWN, config)


def _proposed_block(block: Block, prior: Any, config: Any) -> Any:
    if config is None or config is UNKNOWN:
        return prior
    out = _proposed_attributes(block.attributes, prior, config)
    for name, nb in block.block_types.items():
        out[name] = _proposed_nested_block(nb, _get(prior, name), config.get(name))
    return out


def _proposed_attributes(attrs: dict[str, Attribute], prior: Any, config: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, attr in attrs.items():
        prior_v = _get(prior, name)
        config_v = config.get(name)
        if attr.computed and config_v is None:
            # Optional+computed left unset, or computed-only: keep what we had.
            out[name] = prior_v
        elif attr.nested_type is not None and config_v is not UNKNOWN:
            out[name] = _proposed_nested_type(attr.nested_type, prior_v, config_v)
        else:
            out[name] = config_v
    return out


def _index(prior: Any, i: int) -> tuple[bool, Any]:
    """(has element, element) for list correlation; an unknown prior has every index."""
    if prior is UNKNOWN:
        return True, UNKNOWN
    if isinstance(prior, list) and i < len(prior):
        return True, prior[i]
    return False, None


def _key(prior: Any, k: str) -> tuple[bool, Any]:
    if prior is UNKNOWN:
        return True, UNKNOWN
    if isinstance(prior, dict) and k in prior:
        return True, prior[k]
    return False, None


def _proposed_nested_type(nt: NestedType, prior: Any, config: Any) -> Any:
    if config is None:
        return None
    if nt.nesting == "single":
        return _proposed_attributes(nt.attributes, prior, config)
    if nt.nesting == "list":
        out_l = []
        for i, ce in enumerate(config):
            has, pe = _index(prior, i)
            out_l.append(
                _proposed_attributes(nt.attributes, pe, ce) if has and ce is not UNKNOWN else ce
            )
        return out_l
    if nt.nesting == "map":
        out_m = {}
        for k, ce in config.items():
            has, pe = _key(prior, k)
            out_m[k] = (
                _proposed_attributes(nt.attributes, pe, ce) if has and ce is not UNKNOWN else ce
            )
        return out_m
    # set: correlate by the non-computed content of each element
    as_block = Block(attributes=nt.attributes)
    matches = _set_matches(as_block, prior, config)
    return [
        _proposed_attributes(nt.attributes, pe, ce) if pe is not None and ce is not UNKNOWN else ce
        for ce, pe in zip(config, matches, strict=True)
    ]


def _proposed_nested_block(nb: NestedBlock, prior: Any, config: Any) -> Any:
    if config is UNKNOWN:
        return config
    if nb.nesting == "single" and config is None:
        return None
    if nb.nesting in ("single", "group"):
        return proposed_new(nb.block, prior, config)
    if nb.nesting == "list":
        out_l = []
        for i, ce in enumerate(config or []):
            has, pe = _index(prior, i)
            out_l.append(proposed_new(nb.block, pe, ce) if has else ce)
        return out_l
    if nb.nesting == "map":
        out_m = {}
        for k, ce in (config or {}).items():
            has, pe = _key(prior, k)
            out_m[k] = proposed_new(nb.block, pe, ce) if has else ce
        return out_m
    # set of blocks
    config = config or []
    matches = _set_matches(nb.block, prior, config)
    return [proposed_new(nb.block, pe, ce) for ce, pe in zip(config, matches, strict=True)]


def _set_matches(block: Block, prior: Any, config: list[Any]) -> list[Any]:
    """For each config element, the prior element whose non-computed attributes
    equal it (each prior element used at most once), or None."""
    if not isinstance(prior, list) or not prior:
        return [None] * len(config)
    ty = block.implied_type
    candidates = [(pe, _computed_as_null(block, pe)) for pe in prior]
    used = [False] * len(candidates)
    out: list[Any] = []
    for ce in config:
        found = None
        for i, (pe, cmp) in enumerate(candidates):
            if not used[i] and values_equal(cmp, ce, ty):
                used[i] = True
                found = pe
                break
        out.append(found)
    return out


def _computed_as_null(block: Block, value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    out = dict(value)
    for name, attr in block.attributes.items():
        v = out.get(name)
        if v is None or v is UNKNOWN:
            continue
        if attr.computed:
            out[name] = None
        elif attr.nested_type is not None:
            out[name] = _nested_computed_as_null(attr.nested_type, v)
    for name, nb in block.block_types.items():
        v = out.get(name)
        if nb.nesting in ("single", "group"):
            out[name] = _computed_as_null(nb.block, v)
        elif isinstance(v, list):
            out[name] = [_computed_as_null(nb.block, e) for e in v]
        elif isinstance(v, dict):
            out[name] = {k: _computed_as_null(nb.block, e) for k, e in v.items()}
    return out


def _nested_computed_as_null(nt: NestedType, v: Any) -> Any:
    as_block = Block(attributes=nt.attributes)
    if nt.nesting == "single":
        return _computed_as_null(as_block, v)
    if isinstance(v, list):
        return [_computed_as_null(as_block, e) for e in v]
    if isinstance(v, dict):
        return {k: _computed_as_null(as_block, e) for k, e in v.items()}
    return v


# ------------------------------------------------------------------------------------
# Paths
# ------------------------------------------------------------------------------------

_MISSING = object()


def value_at(value: Any, path: Sequence[str | int]) -> Any:
    """The value at ``path``; ``UNKNOWN`` under an unknown, None under a null."""
    cur = value
    for step in path:
        if cur is UNKNOWN:
            return UNKNOWN
        if isinstance(cur, Typed):
            cur = cur.value
        if cur is None:
            return None
        if isinstance(step, int):
            cur = cur[step] if isinstance(cur, list) and 0 <= step < len(cur) else None
        elif isinstance(cur, dict):
            cur = cur.get(step)
        else:
            return None
    return cur


def type_at(ty: CtyType, path: Sequence[str | int]) -> CtyType | None:
    cur: CtyType | None = ty
    for step in path:
        if isinstance(cur, ObjectType) and isinstance(step, str) and not isinstance(step, MapKey):
            cur = cur.attributes.get(step)
        elif isinstance(cur, ListType | SetType | MapType):
            cur = cur.element
        elif isinstance(cur, TupleType) and isinstance(step, int):
            cur = cur.elements[step] if step < len(cur.elements) else None
        else:
            return None
    return cur


def effective_replace_paths(
    block: Block, prior: Any, planned: Any, requires_replace: Iterable[AttributePath]
) -> list[AttributePath]:
    """The provider's ``requires_replace`` paths whose value actually changes (or is
    unknown): core ignores the others, and so do we."""
    out: list[AttributePath] = []
    ty = block.implied_type
    for path in requires_replace:
        before = value_at(prior, path)
        after = value_at(planned, path)
        if (
            after is UNKNOWN
            or contains_unknown(after)
            or not values_equal(before, after, type_at(ty, path))
        ):
            out.append(list(path))
    return out


def decide_action(
    block: Block,
    prior: Any,
    config: Any,
    planned: Any,
    replace_paths: Sequence[AttributePath],
) -> ChangeAction:
    if prior is None:
        return ChangeAction.NO_OP if config is None else ChangeAction.CREATE
    if config is None or planned is None:
        return ChangeAction.DELETE
    if replace_paths:
        return ChangeAction.REPLACE
    if values_equal(prior, planned, block.implied_type):
        return ChangeAction.NO_OP
    return ChangeAction.UPDATE


# ------------------------------------------------------------------------------------
# Plan validity and apply consistency
# ------------------------------------------------------------------------------------


def _show(attr: Attribute | None, v: Any) -> str:
    if attr is not None and attr.sensitive:
        return SENSITIVE_DISPLAY
    return repr(to_user(v))


def plan_problems(block: Block, prior: Any, config: Any, planned: Any) -> list[Diagnostic]:
    """Ways ``planned`` fails to honour ``config`` (Terraform's AssertPlanValid)."""
    problems: list[Diagnostic] = []
    if planned is None:
        if config is not None:
            problems.append(Diagnostic.error("planned for absence but config wants existence"))
        return problems
    if config is None:
        problems.append(Diagnostic.error("planned for existence but config wants absence"))
        return problems
    _plan_block(block, prior, config, planned, [], problems)
    return problems


def _plan_block(
    block: Block, prior: Any, config: Any, planned: Any, path: AttributePath, out: list[Diagnostic]
) -> None:
    if planned is UNKNOWN or config is UNKNOWN:
        return
    if not isinstance(planned, dict) or not isinstance(config, dict):
        return
    for name, attr in block.attributes.items():
        _plan_attr(attr, _get(prior, name), config.get(name), planned.get(name), [*path, name], out)
    for name, nb in block.block_types.items():
        _plan_nested_block(
            nb, _get(prior, name), config.get(name), planned.get(name), [*path, name], out
        )


def _plan_attr(
    attr: Attribute,
    prior: Any,
    config: Any,
    planned: Any,
    path: AttributePath,
    out: list[Diagnostic],
) -> None:
    if planned is UNKNOWN:
        if attr.computed or config is UNKNOWN or contains_unknown(config):
            return
        out.append(
            Diagnostic.error("planned an unknown value for a non-computed attribute", path=path)
        )
        return
    ty = attr.value_type
    if values_equal(planned, config, ty):
        return
    if attr.computed and config is None:
        return
    if prior is not None and values_equal(planned, prior, ty):
        return
    if attr.nested_type is not None and isinstance(config, dict | list) and config is not UNKNOWN:
        _plan_nested_type(attr.nested_type, prior, config, planned, path, out)
        return
    if contains_unknown(config):
        return
    out.append(
        Diagnostic.error(
            "planned value does not match config value",
            f"planned {_show(attr, planned)}, config {_show(attr, config)}",
            path,
        )
    )


def _plan_nested_type(
    nt: NestedType,
    prior: Any,
    config: Any,
    planned: Any,
    path: AttributePath,
    out: list[Diagnostic],
) -> None:
    as_block = Block(attributes=nt.attributes)
    if nt.nesting == "single":
        _plan_block(as_block, prior, config, planned, path, out)
    elif nt.nesting == "list" and isinstance(planned, list) and isinstance(config, list):
        if len(planned) != len(config):
            out.append(Diagnostic.error("count in plan disagrees with config", path=path))
            return
        for i, (ce, pe) in enumerate(zip(config, planned, strict=True)):
            _plan_block(as_block, _index(prior, i)[1], ce, pe, [*path, i], out)
    elif nt.nesting == "map" and isinstance(planned, dict) and isinstance(config, dict):
        if set(planned) != set(config):
            out.append(Diagnostic.error("keys in plan disagree with config", path=path))
            return
        for k in config:
            _plan_block(as_block, _key(prior, k)[1], config[k], planned[k], [*path, MapKey(k)], out)


def _plan_nested_block(
    nb: NestedBlock,
    prior: Any,
    config: Any,
    planned: Any,
    path: AttributePath,
    out: list[Diagnostic],
) -> None:
    if config is UNKNOWN or planned is UNKNOWN:
        return
    if nb.nesting in ("single", "group"):
        if config is None:
            if planned is not None and nb.nesting == "single":
                out.append(Diagnostic.error("planned a block the config does not have", path=path))
            return
        if planned is None:
            out.append(Diagnostic.error("planned no block where the config has one", path=path))
            return
        _plan_block(nb.block, prior, config, planned, path, out)
        return
    if nb.nesting == "list":
        config, planned = config or [], planned or []
        if len(config) != len(planned):
            out.append(
                Diagnostic.error(
                    f"block count in plan ({len(planned)}) disagrees with config ({len(config)})",
                    path=path,
                )
            )
            return
        for i, (ce, pe) in enumerate(zip(config, planned, strict=True)):
            _plan_block(nb.block, _index(prior, i)[1], ce, pe, [*path, i], out)
    elif nb.nesting == "map":
        config, planned = config or {}, planned or {}
        if set(config) != set(planned):
            out.append(Diagnostic.error("block keys in plan disagree with config", path=path))
            return
        for k in config:
            _plan_block(nb.block, _key(prior, k)[1], config[k], planned[k], [*path, MapKey(k)], out)
    else:  # set: only the count is checkable without element identity
        config, planned = config or [], planned or []
        if (
            not contains_unknown(config)
            and not contains_unknown(planned)
            and len(planned) < len(config)
        ):
            out.append(
                Diagnostic.error(
                    f"block count in plan ({len(planned)}) is less than in config ({len(config)})",
                    path=path,
                )
            )


def compatibility_problems(block: Block, planned: Any, actual: Any) -> list[Diagnostic]:
    """Ways ``actual`` contradicts the known parts of ``planned`` (AssertObjectCompatible).

    Used for an apply result against its plan, and for the final plan made at apply
    time against the plan the user approved.
    """
    out: list[Diagnostic] = []
    if planned is None or actual is None:
        if (planned is None) != (actual is None):
            out.append(Diagnostic.error("object existence differs from the plan"))
        return out
    _compat_block(block, planned, actual, [], out)
    return out


def _compat_block(
    block: Block, planned: Any, actual: Any, path: AttributePath, out: list[Diagnostic]
) -> None:
    if planned is UNKNOWN or not isinstance(planned, dict) or not isinstance(actual, dict):
        return
    for name, attr in block.attributes.items():
        _compat_value(
            attr, attr.value_type, planned.get(name), actual.get(name), [*path, name], out
        )
    for name, nb in block.block_types.items():
        p, a = planned.get(name), actual.get(name)
        if p is UNKNOWN:
            continue
        sub = [*path, name]
        if nb.nesting in ("single", "group"):
            if (p is None) != (a is None):
                out.append(Diagnostic.error("block presence differs from the plan", path=sub))
            else:
                _compat_block(nb.block, p, a, sub, out)
        elif nb.nesting == "list":
            p, a = p or [], a or []
            if len(p) != len(a):
                out.append(
                    Diagnostic.error(f"block count changed from {len(p)} to {len(a)}", path=sub)
                )
                continue
            for i, (pe, ae) in enumerate(zip(p, a, strict=True)):
                _compat_block(nb.block, pe, ae, [*sub, i], out)
        elif nb.nesting == "map":
            p, a = p or {}, a or {}
            if set(p) != set(a):
                out.append(Diagnostic.error("block keys differ from the plan", path=sub))
                continue
            for k in p:
                _compat_block(nb.block, p[k], a[k], [*sub, MapKey(k)], out)
        elif not contains_unknown(p) and not values_equal(p, a, nb.implied_type):
            out.append(Diagnostic.error("set of blocks differs from the plan", path=sub))


def _compat_value(
    attr: Attribute,
    ty: CtyType,
    planned: Any,
    actual: Any,
    path: AttributePath,
    out: list[Diagnostic],
) -> None:
    if planned is UNKNOWN:
        return
    if not contains_unknown(planned):
        if not values_equal(planned, actual, ty):
            out.append(
                Diagnostic.error(
                    "value differs from the plan",
                    f"planned {_show(attr, planned)}, got {_show(attr, actual)}",
                    path,
                )
            )
        return
    # Partially unknown: compare the known parts structurally.
    if isinstance(ty, ObjectType) and isinstance(planned, dict) and isinstance(actual, dict):
        for k, sub in ty.attributes.items():
            _compat_value(attr, sub, planned.get(k), actual.get(k), [*path, k], out)
    elif (
        isinstance(ty, ListType | TupleType)
        and isinstance(planned, list)
        and isinstance(actual, list)
    ):
        if len(planned) != len(actual):
            out.append(Diagnostic.error("length differs from the plan", path=path))
            return
        for i, (p, a) in enumerate(zip(planned, actual, strict=True)):
            ety = ty.element if isinstance(ty, ListType) else ty.elements[i]
            _compat_value(attr, ety, p, a, [*path, i], out)
    elif isinstance(ty, MapType) and isinstance(planned, dict) and isinstance(actual, dict):
        if set(planned) != set(actual):
            out.append(Diagnostic.error("map keys differ from the plan", path=path))
            return
        for k in planned:
            _compat_value(attr, ty.element, planned[k], actual[k], [*path, MapKey(k)], out)


def write_only_problems(
    schema_paths: Iterable[tuple[str | int, ...]], value: Any
) -> list[Diagnostic]:
    """Write-only attributes must be null in any planned or stored state."""
    out: list[Diagnostic] = []
    for spath in schema_paths:
        for path, v in _expand(value, list(spath), []):
            if v is not None:
                out.append(
                    Diagnostic.error(
                        "provider returned a value for a write-only attribute", path=path
                    )
                )
    return out


def _expand(
    value: Any, spath: list[str | int], prefix: AttributePath
) -> Iterable[tuple[AttributePath, Any]]:
    """Concrete (path, value) pairs for a schema path with ``"*"`` wildcards."""
    if not spath:
        yield prefix, value
        return
    if value is None or value is UNKNOWN:
        return
    step, rest = spath[0], spath[1:]
    if step == "*":
        if isinstance(value, list):
            for i, e in enumerate(value):
                yield from _expand(e, rest, [*prefix, i])
        elif isinstance(value, dict):
            for k, e in value.items():
                yield from _expand(e, rest, [*prefix, MapKey(k)])
        return
    if isinstance(value, dict):
        yield from _expand(value.get(step), rest, [*prefix, step])


# ------------------------------------------------------------------------------------
# Redaction and diff
# ------------------------------------------------------------------------------------


def redact(block: Block, value: Any, placeholder: Any = SENSITIVE_DISPLAY) -> Any:
    """A copy of ``value`` with every sensitive attribute's value replaced (null stays
    null, so readers can still tell whether it is set)."""
    if not isinstance(value, dict):
        return value
    out = dict(value)
    for name, attr in block.attributes.items():
        v = out.get(name)
        if v is None:
            continue
        if attr.sensitive:
            out[name] = placeholder
        elif attr.nested_type is not None:
            out[name] = _redact_nested(attr.nested_type, v, placeholder)
    for name, nb in block.block_types.items():
        v = out.get(name)
        if nb.nesting in ("single", "group"):
            out[name] = redact(nb.block, v, placeholder)
        elif isinstance(v, list):
            out[name] = [redact(nb.block, e, placeholder) for e in v]
        elif isinstance(v, dict):
            out[name] = {k: redact(nb.block, e, placeholder) for k, e in v.items()}
    return out


def _redact_nested(nt: NestedType, v: Any, placeholder: Any) -> Any:
    as_block = Block(attributes=nt.attributes)
    if nt.nesting == "single":
        return redact(as_block, v, placeholder)
    if isinstance(v, list):
        return [redact(as_block, e, placeholder) for e in v]
    if isinstance(v, dict):
        return {k: redact(as_block, e, placeholder) for k, e in v.items()}
    return v


class AttributeChange(BaseModel):
    """One changed attribute (or map entry / block element), ready to show a user or
    feed a policy. Values are user JSON; sensitive values are replaced by
    ``"(sensitive)"``; an unknown ``after`` reads ``"(known after apply)"``."""

    model_config = ConfigDict(frozen=True)

    path: AttributePath
    attribute: str = Field(description='The path as users read it, e.g. tags["env"]')
    before: Any = None
    after: Any = None
    after_unknown: bool = False
    sensitive: bool = False
    requires_replace: bool = False


def diff(
    block: Block,
    before: Any,
    after: Any,
    replace_paths: Sequence[AttributePath] = (),
) -> list[AttributeChange]:
    """Attribute-level changes from ``before`` to ``after`` (either may be None)."""
    out: list[AttributeChange] = []
    b = before if isinstance(before, dict) else {}
    a = after if isinstance(after, dict) else ({} if after is None else after)
    if a is UNKNOWN:
        return out
    _diff_block(block, b, a, [], False, out)
    if replace_paths:
        out = [
            c.model_copy(update={"requires_replace": True})
            if any(
                c.path[: len(p)] == list(p) or list(p)[: len(c.path)] == c.path
                for p in replace_paths
            )
            else c
            for c in out
        ]
    return out


def _diff_block(
    block: Block,
    before: Any,
    after: Any,
    path: AttributePath,
    sensitive: bool,
    out: list[AttributeChange],
) -> None:
    before = before if isinstance(before, dict) else {}
    if after is UNKNOWN:
        out.append(_change(path, before or None, UNKNOWN, sensitive))
        return
    after = after if isinstance(after, dict) else {}
    for name, attr in block.attributes.items():
        _diff_value(
            attr.value_type,
            attr.nested_type,
            before.get(name),
            after.get(name),
            [*path, name],
            sensitive or attr.sensitive,
            out,
        )
    for name, nb in block.block_types.items():
        bv, av = before.get(name), after.get(name)
        sub = [*path, name]
        if nb.nesting in ("single", "group"):
            if bv is None and av is None:
                continue
            _diff_block(nb.block, bv, av, sub, sensitive, out)
        elif nb.nesting == "list":
            if av is UNKNOWN:
                out.append(_change(sub, bv, UNKNOWN, sensitive))
                continue
            bl, al = bv or [], av or []
            for i in range(max(len(bl), len(al))):
                _diff_block(
                    nb.block,
                    bl[i] if i < len(bl) else None,
                    al[i] if i < len(al) else None,
                    [*sub, i],
                    sensitive,
                    out,
                )
        elif nb.nesting == "map":
            if av is UNKNOWN:
                out.append(_change(sub, bv, UNKNOWN, sensitive))
                continue
            bm, am = bv or {}, av or {}
            for k in sorted(set(bm) | set(am)):
                _diff_block(nb.block, bm.get(k), am.get(k), [*sub, MapKey(k)], sensitive, out)
        else:
            _diff_set(
                nb.implied_type, bv, av, sub, sensitive, out, lambda v, b=nb.block: redact(b, v)
            )


def _diff_value(
    ty: CtyType,
    nested: NestedType | None,
    before: Any,
    after: Any,
    path: AttributePath,
    sensitive: bool,
    out: list[AttributeChange],
) -> None:
    if values_equal(before, after, ty):
        return
    if before is None and after is None:
        return
    if nested is not None and after is not UNKNOWN and before is not UNKNOWN:
        as_block = Block(attributes=nested.attributes)
        if nested.nesting == "single" and (isinstance(before, dict) or isinstance(after, dict)):
            _diff_block(as_block, before, after, path, sensitive, out)
            return
        if (
            nested.nesting == "list"
            and isinstance(before or [], list)
            and isinstance(after or [], list)
        ):
            bl, al = before or [], after or []
            for i in range(max(len(bl), len(al))):
                _diff_block(
                    as_block,
                    bl[i] if i < len(bl) else None,
                    al[i] if i < len(al) else None,
                    [*path, i],
                    sensitive,
                    out,
                )
            return
        if (
            nested.nesting == "map"
            and isinstance(before or {}, dict)
            and isinstance(after or {}, dict)
        ):
            bm, am = before or {}, after or {}
            for k in sorted(set(bm) | set(am)):
                _diff_block(as_block, bm.get(k), am.get(k), [*path, MapKey(k)], sensitive, out)
            return
        if nested.nesting == "set":
            _diff_set(ty, before, after, path, sensitive, out, lambda v: redact(as_block, v))
            return
    if (
        isinstance(ty, MapType | ObjectType)
        and isinstance(before, dict | type(None))
        and isinstance(after, dict)
        and (before is not None or after)
    ):
        # Per-key changes (tags["env"]) read better than whole-map replacements.
        bm = before or {}
        keys = sorted(set(bm) | set(after))
        for k in keys:
            sub_ty = ty.element if isinstance(ty, MapType) else ty.attributes.get(k)
            step: str = MapKey(k) if isinstance(ty, MapType) else k
            if sub_ty is None:
                continue
            _diff_value(sub_ty, None, bm.get(k), after.get(k), [*path, step], sensitive, out)
        return
    out.append(_change(path, before, after, sensitive))


def _diff_set(
    ty: CtyType,
    before: Any,
    after: Any,
    path: AttributePath,
    sensitive: bool,
    out: list[AttributeChange],
    redactor: Any,
) -> None:
    if after is UNKNOWN:
        out.append(_change(path, before, UNKNOWN, sensitive))
        return
    ety = ty.element if isinstance(ty, SetType) else None
    bl, al = list(before or []), list(after or [])
    removed = [b for b in bl if not any(values_equal(b, a, ety) for a in al)]
    added = [a for a in al if not any(values_equal(a, b, ety) for b in bl)]
    for b in removed:
        out.append(_change(path, redactor(b), None, sensitive))
    for a in added:
        out.append(_change(path, None, redactor(a), sensitive))


def _change(path: AttributePath, before: Any, after: Any, sensitive: bool) -> AttributeChange:
    unknown_after = after is UNKNOWN
    if sensitive:
        b = None if before is None else SENSITIVE_DISPLAY
        a = UNKNOWN_DISPLAY if unknown_after else (None if after is None else SENSITIVE_DISPLAY)
    else:
        b, a = to_user(before), to_user(after)
    return AttributeChange(
        path=list(path),
        attribute=format_path(path),
        before=b,
        after=a,
        after_unknown=unknown_after,
        sensitive=sensitive,
    )
