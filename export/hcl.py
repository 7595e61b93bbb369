"""Terraform language (HCL native syntax) from intent configs, guided by provider schemas.

Configs are user JSON with intent's references (``"${logs.id}"``). Written as HCL:

- a whole-string reference becomes an expression (``aws_s3_bucket.logs.id``); one inside a
  longer string becomes an interpolation (``"arn:aws:s3:::${aws_s3_bucket.logs.id}/*"``);
  indexing into a set goes through ``tolist(...)``, which Terraform requires;
- nested blocks (lists of objects in JSON) become blocks, attributes stay attributes;
- a sensitive or write-only attribute set to a literal goes through ``on_secret``, which
  returns the expression to write instead (a variable): secrets are never HCL literals.

Pure: the export activity gathers configs and schemas; this only writes text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from providers.ctytype import CtyType, DynamicType, MapType, ObjectType, SetType
from providers.schema import Attribute, Block, NestedBlock
from workflows.references import Reference, find_references, template_parts, whole_reference

__all__ = [
    "INDENT",
    "ReferenceTarget",
    "SecretHook",
    "aligned",
    "body_lines",
    "hcl_type",
    "identifier",
    "is_identifier",
    "quote",
    "value_expression",
]

INDENT = "  "
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_KEYWORDS = frozenset({"true", "false", "null", "for", "in", "if", "else", "endif", "endfor"})

# (path of the attribute inside the resource, its schema, its literal value) → expression.
SecretHook = Callable[[tuple[str | int, ...], Attribute, Any], str]


@dataclass(frozen=True)
class ReferenceTarget:
    """Where a resource id points in the exported configuration."""

    address: str  # aws_s3_bucket.logs
    type: CtyType  # the resource type's implied object type (for set indexing)


def is_identifier(name: str) -> bool:
    return bool(_IDENTIFIER.match(name)) and name not in _KEYWORDS


def identifier(text: str) -> str:
    """A safe HCL identifier made from ``text`` (lower case, ``_`` for anything else)."""
    out = re.sub(r"[^a-z0-9_]", "_", text.lower()).strip("_") or "value"
    return out if out[0].isalpha() or out[0] == "_" else f"_{out}"


def quote(text: str) -> str:
    """A quoted HCL string literal of ``text`` (template sequences escaped)."""
    return '"' + _escape(text).replace("${", "$${") + '"'


def _escape(text: str) -> str:
    out = (
        text.replace("\\", "\\\\")
        .replace('"', '\\"')
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace("\t", "\\t")
    )
    return out.replace("%{", "%%{")


def hcl_type(ty: CtyType) -> str:
    """A type constraint for a variable block (``dynamic`` is ``any`` in HCL)."""
    if isinstance(ty, DynamicType):
        return "any"
    return ty.friendly_name.replace("dynamic", "any")


def _reference(ref: Reference, targets: Mapping[str, ReferenceTarget]) -> str:
    target = targets.get(ref.resource_id)
    if target is None:
        raise ValueError(f"{ref} refers to {ref.resource_id}, which is not in this export")
    expr = target.address
    ty: CtyType | None = target.type
    for step in ref.path:
        if isinstance(step, int):
            if isinstance(ty, SetType):
                expr = f"tolist({expr})"  # sets have no order in Terraform: index a list
            expr += f"[{step}]"
            ty = getattr(ty, "element", None)
        else:
            if isinstance(ty, ObjectType) and is_identifier(step):
                expr += f".{step}"
                ty = ty.attributes.get(step)
            else:
                expr += f"[{json.dumps(step)}]"
                ty = ty.element if isinstance(ty, MapType) else None
    return expr


def _string(text: str, targets: Mapping[str, ReferenceTarget]) -> str:
    """An intent string as an HCL expression: references rewritten, the rest escaped.

    intent's literal escape ``$${`` is HCL's too, so literal text keeps it as is."""
    whole = whole_reference(text)
    if whole is not None:
        return _reference(whole, targets)
    return (
        '"'
        + "".join(
            "${" + _reference(part, targets) + "}" if isinstance(part, Reference) else _escape(part)
            for part in template_parts(text)
        )
        + '"'
    )


def value_expression(value: Any, targets: Mapping[str, ReferenceTarget], depth: int = 0) -> str:
    """A JSON value (with intent references in its strings) as an HCL expression."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return str(value)
    if isinstance(value, str):
        return _string(value, targets)
    pad = INDENT * (depth + 1)
    if isinstance(value, list):
        if not value:
            return "[]"
        items = [value_expression(v, targets, depth + 1) for v in value]
        if all("\n" not in i for i in items) and sum(len(i) for i in items) < 60:
            return "[" + ", ".join(items) + "]"
        return "[\n" + "".join(f"{pad}{i},\n" for i in items) + INDENT * depth + "]"
    if isinstance(value, dict):
        if not value:
            return "{}"
        pairs = [(_key(k), value_expression(v, targets, depth + 1)) for k, v in value.items()]
        return "{\n" + "".join(f"{line}\n" for line in aligned(pairs, pad)) + INDENT * depth + "}"
    raise TypeError(f"cannot write a {type(value).__name__} as HCL")


def aligned(pairs: list[tuple[str, str]], pad: str) -> list[str]:
    """``name = expression`` lines, the ``=`` aligned within each run of one-line values
    (as ``terraform fmt`` does: a multi-line value ends a run)."""
    lines: list[str] = []
    run: list[tuple[str, str]] = []

    def flush() -> None:
        width = max((len(n) for n, _ in run), default=0)
        lines.extend(f"{pad}{n.ljust(width)} = {e}" for n, e in run)
        run.clear()

    for name, expression in pairs:
        if "\n" in expression:
            flush()
            lines.append(f"{pad}{name} = {expression}")
        else:
            run.append((name, expression))
    flush()
    return lines


def _key(key: Any) -> str:
    text = str(key)
    return text if is_identifier(text) else json.dumps(text)


def _has_reference(value: Any) -> bool:
    return bool(find_references(value))


def body_lines(
    block: Block,
    config: Mapping[str, Any],
    targets: Mapping[str, ReferenceTarget],
    on_secret: SecretHook,
    *,
    depth: int = 1,
    path: tuple[str | int, ...] = (),
) -> list[str]:
    """The lines of a block body: attributes (aligned) then nested blocks, schema order."""
    pad = INDENT * depth
    attributes: list[tuple[str, str]] = []
    for name, attr in block.attributes.items():
        if name not in config or config[name] is None:
            continue
        value = config[name]
        where = (*path, name)
        if (attr.sensitive or attr.write_only) and not _has_reference(value):
            attributes.append((name, on_secret(where, attr, value)))
        else:
            attributes.append((name, value_expression(value, targets, depth)))
    lines = aligned(attributes, pad)
    for name, nested in block.block_types.items():
        value = config.get(name)
        if value is None:
            continue
        for label, item, index in _block_items(nested, value):
            where = (*path, name) if index is None else (*path, name, index)
            header = f"{pad}{name}" + (f" {json.dumps(label)}" if label is not None else "")
            inner = body_lines(nested.block, item, targets, on_secret, depth=depth + 1, path=where)
            if lines:
                lines.append("")
            lines += [f"{header} {{", *inner, f"{pad}}}"] if inner else [f"{header} {{}}"]
    return lines


def _block_items(
    nested: NestedBlock, value: Any
) -> list[tuple[str | None, Mapping[str, Any], str | int | None]]:
    """(label, body, path step) for each block a nested-block value holds; JSON configs may
    write a single block as an object or a one-element list (as planning accepts)."""
    if nested.nesting in ("single", "group"):
        if isinstance(value, list):
            value = value[0] if len(value) == 1 else None
        return [(None, value, None)] if isinstance(value, Mapping) else []
    if nested.nesting == "map":
        if not isinstance(value, Mapping):
            return []
        return [(str(k), v, str(k)) for k, v in value.items() if isinstance(v, Mapping)]
    items = [value] if isinstance(value, Mapping) else value if isinstance(value, list) else []
    return [(None, v, i) for i, v in enumerate(items) if isinstance(v, Mapping)]
