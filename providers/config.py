"""Turn a user's JSON config into a schema-conforming cty value, with diagnostics.

This is the job Terraform core does when it decodes HCL against a provider schema:
unknown argument names are rejected (with a "did you mean"), read-only attributes
cannot be set, required ones must be, values are converted the way cty converts
(``"5"`` → 5 for a number, ``true`` → ``"true"`` for a string), blocks absent from
the config become null / empty collections, and every attribute is present.

As Terraform's JSON syntax does, a single block may be given as an object where the
schema says list or set of blocks.
"""

from __future__ import annotations

import difflib
import unicodedata
from decimal import Decimal
from typing import Any

from providers.codec import UNKNOWN, Typed, _is_number, from_wire, is_unknown_wire, parse_number
from providers.ctytype import (
    BOOL,
    DYNAMIC,
    NUMBER,
    STRING,
    CtyType,
    DynamicType,
    ListType,
    MapType,
    ObjectType,
    SetType,
    TupleType,
    parse_type,
)
from providers.errors import AttributePath, Diagnostic, MapKey
from providers.schema import Attribute, Block, NestedBlock, NestedType

__all__ = ["block_empty_value", "convert_config", "convert_value"]


def convert_config(block: Block, config: Any) -> tuple[Any, list[Diagnostic]]:
    """``config`` (user JSON, may hold unknowns) as a value of ``block``'s type.

    Returns the converted value and diagnostics; when any diagnostic is an error the
    value is not usable.
    """
    diags: list[Diagnostic] = []
    if config is None:
        return None, diags
    value = _block(block, config, [], diags)
    return value, diags


def block_empty_value(block: Block) -> dict[str, Any]:
    """The value of an empty block: null attributes, empty/null nested blocks."""
    out: dict[str, Any] = dict.fromkeys(block.attributes)
    for name, nb in block.block_types.items():
        out[name] = _absent_block(nb)
    return out


def _absent_block(nb: NestedBlock) -> Any:
    if nb.nesting == "single":
        return None
    if nb.nesting == "group":
        return block_empty_value(nb.block)
    if nb.nesting == "map":
        return {}
    return []


def _block(block: Block, value: Any, path: AttributePath, diags: list[Diagnostic]) -> Any:
    if value is UNKNOWN or is_unknown_wire(value):
        return UNKNOWN
    if not isinstance(value, dict):
        diags.append(
            Diagnostic.error(
                "Invalid block", f"expected an object, got {_json_kind(value)}", path or None
            )
        )
        return None
    out: dict[str, Any] = {}
    names = [*block.attributes, *block.block_types]
    for key in value:
        if key not in block.attributes and key not in block.block_types:
            close = difflib.get_close_matches(str(key), names, n=1, cutoff=0.6)
            hint = f' Did you mean "{close[0]}"?' if close else ""
            diags.append(
                Diagnostic.error(
                    "Unsupported argument",
                    f'An argument named "{key}" is not expected here.{hint}',
                    [*path, str(key)],
                )
            )
    for name, attr in block.attributes.items():
        out[name] = _attribute(attr, value.get(name), [*path, name], diags)
    for name, nb in block.block_types.items():
        out[name] = _nested_block(nb, value.get(name), [*path, name], diags)
    return out


def _attribute(attr: Attribute, value: Any, path: AttributePath, diags: list[Diagnostic]) -> Any:
    if value is None:
        if attr.required:
            diags.append(
                Diagnostic.error(
                    "Missing required argument",
                    f'The argument "{attr.name}" is required, but no definition was found.',
                    path,
                )
            )
        return None
    if not attr.configurable:
        diags.append(
            Diagnostic.error(
                "Value for unconfigurable attribute",
                f'Can\'t configure a value for "{attr.name}": its value is decided '
                "by the provider (read-only).",
                path,
            )
        )
        return None
    if attr.deprecated:
        diags.append(
            Diagnostic.warning(
                "Deprecated attribute", f'The attribute "{attr.name}" is deprecated.', path
            )
        )
    if attr.nested_type is not None:
        return _nested_type(attr.nested_type, value, path, diags)
    assert attr.type is not None
    return convert_value(attr.type, value, path, diags)


def _nested_type(nt: NestedType, value: Any, path: AttributePath, diags: list[Diagnostic]) -> Any:
    if value is None:
        return None
    if value is UNKNOWN or is_unknown_wire(value):
        return UNKNOWN
    as_block = Block(attributes=nt.attributes)

    def one(v: Any, p: AttributePath) -> Any:
        return _block(as_block, v, p, diags)

    if nt.nesting == "single":
        return one(value, path)
    if nt.nesting in ("list", "set"):
        if isinstance(value, dict):
            value = [value]
        if not isinstance(value, list):
            diags.append(
                Diagnostic.error("Incorrect attribute value type", "a list is required", path)
            )
            return None
        items = [one(v, [*path, i]) for i, v in enumerate(value)]
        return _dedupe(items) if nt.nesting == "set" else items
    if not isinstance(value, dict):
        diags.append(Diagnostic.error("Incorrect attribute value type", "a map is required", path))
        return None
    return {str(k): one(v, [*path, MapKey(k)]) for k, v in value.items()}


def _nested_block(nb: NestedBlock, value: Any, path: AttributePath, diags: list[Diagnostic]) -> Any:
    if value is UNKNOWN or is_unknown_wire(value):
        return UNKNOWN
    if value is None:
        absent = _absent_block(nb)
        _check_count(nb, 0, path, diags)
        return absent
    if nb.nesting in ("single", "group"):
        if isinstance(value, list) and len(value) == 1:
            value = value[0]  # tolerate the JSON-syntax list form for a single block
        return _block(nb.block, value, path, diags)
    if nb.nesting in ("list", "set"):
        if isinstance(value, dict):
            value = [value]
        if not isinstance(value, list):
            diags.append(
                Diagnostic.error("Invalid block", f"expected a list of {nb.type_name} blocks", path)
            )
            return []
        items = [_block(nb.block, v, [*path, i], diags) for i, v in enumerate(value)]
        if nb.nesting == "set":
            items = _dedupe(items)
        _check_count(nb, len(items), path, diags)
        return items
    # map of blocks, keyed by label
    if not isinstance(value, dict):
        diags.append(
            Diagnostic.error("Invalid block", f"expected an object of {nb.type_name} blocks", path)
        )
        return {}
    return {str(k): _block(nb.block, v, [*path, MapKey(k)], diags) for k, v in value.items()}


def _check_count(nb: NestedBlock, n: int, path: AttributePath, diags: list[Diagnostic]) -> None:
    if nb.min_items and n < nb.min_items:
        diags.append(
            Diagnostic.error(
                f"Insufficient {nb.type_name} blocks",
                f'At least {nb.min_items} "{nb.type_name}" block(s) are required.',
                path,
            )
        )
    if nb.max_items and n > nb.max_items:
        diags.append(
            Diagnostic.error(
                f"Too many {nb.type_name} blocks",
                f'No more than {nb.max_items} "{nb.type_name}" block(s) are allowed.',
                path,
            )
        )


def _dedupe(items: list[Any]) -> list[Any]:
    # A set holds each value once; keep first occurrences (unknowns never compare equal).
    out: list[Any] = []
    for item in items:
        if any(_same(item, seen) for seen in out):
            continue
        out.append(item)
    return out


def _same(a: Any, b: Any) -> bool:
    from providers.codec import contains_unknown

    if contains_unknown(a) or contains_unknown(b):
        return False
    return bool(a == b) and type(a) is type(b)


def _json_kind(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "bool"
    if _is_number(v):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list | tuple):
        return "list"
    if isinstance(v, dict):
        return "object"
    return type(v).__name__


def _type_error(ty: CtyType, v: Any, path: AttributePath, diags: list[Diagnostic]) -> None:
    diags.append(
        Diagnostic.error(
            "Incorrect attribute value type",
            f"{ty.friendly_name} required, got {_json_kind(v)}",
            path,
        )
    )


def convert_value(ty: CtyType, v: Any, path: AttributePath, diags: list[Diagnostic]) -> Any:
    """Convert a JSON value to ``ty`` with cty's safe conversions."""
    if v is None or v is UNKNOWN:
        return v
    if is_unknown_wire(v):
        return UNKNOWN
    if isinstance(ty, DynamicType):
        return _dynamic(v)
    if isinstance(v, Typed):
        return convert_value(ty, v.value, path, diags)
    if ty == STRING:
        if isinstance(v, str):
            # cty keeps strings in Unicode NFC; so must we, or a provider's plan would
            # "change" every non-NFC string we send it.
            return unicodedata.normalize("NFC", v)
        if isinstance(v, bool):
            return "true" if v else "false"
        if _is_number(v):
            return _number_text(v)
        _type_error(ty, v, path, diags)
        return None
    if ty == NUMBER:
        if _is_number(v):
            return v
        if isinstance(v, str):
            try:
                return parse_number(v)
            except ValueError:
                pass
        _type_error(ty, v, path, diags)
        return None
    if ty == BOOL:
        if isinstance(v, bool):
            return v
        if isinstance(v, str) and v in ("true", "false"):
            return v == "true"
        _type_error(ty, v, path, diags)
        return None
    if isinstance(ty, ListType | SetType):
        if not isinstance(v, list | tuple):
            _type_error(ty, v, path, diags)
            return None
        items = [convert_value(ty.element, e, [*path, i], diags) for i, e in enumerate(v)]
        return _dedupe(items) if isinstance(ty, SetType) else items
    if isinstance(ty, TupleType):
        if not isinstance(v, list | tuple) or len(v) != len(ty.elements):
            _type_error(ty, v, path, diags)
            return None
        return [
            convert_value(t, e, [*path, i], diags)
            for i, (e, t) in enumerate(zip(v, ty.elements, strict=True))
        ]
    if isinstance(ty, MapType):
        if not isinstance(v, dict):
            _type_error(ty, v, path, diags)
            return None
        return {
            str(k): convert_value(ty.element, e, [*path, MapKey(k)], diags) for k, e in v.items()
        }
    if isinstance(ty, ObjectType):
        if not isinstance(v, dict):
            _type_error(ty, v, path, diags)
            return None
        for key in v:
            if key not in ty.attributes:
                diags.append(
                    Diagnostic.error(
                        "Unsupported attribute",
                        f'This object does not have an attribute named "{key}".',
                        [*path, str(key)],
                    )
                )
        return {
            name: convert_value(aty, v.get(name), [*path, name], diags)
            for name, aty in ty.attributes.items()
        }
    _type_error(ty, v, path, diags)
    return None


def _dynamic(v: Any) -> Any:
    # cty's JSON form of a dynamic value ({"value": …, "type": …}, as in wire JSON and
    # stored state) keeps its exact type; any other value gets its type inferred.
    if isinstance(v, dict) and set(v) == {"value", "type"}:
        try:
            parse_type(v["type"])
            return from_wire(v, DYNAMIC)
        except (ValueError, TypeError):
            return v
    return v


def _number_text(n: Any) -> str:
    if isinstance(n, int):
        return str(n)
    if isinstance(n, float):
        return str(int(n)) if n.is_integer() else repr(n)
    assert isinstance(n, Decimal)
    return str(int(n)) if n == n.to_integral_value() else format(n.normalize(), "f")
