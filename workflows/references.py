"""References between resources: ``"${bucket.arn}"`` in a config value.

A whole-string reference keeps the referenced value's type (a list stays a list); a
reference inside a longer string is interpolated as text. ``$${`` escapes a literal
``${``. References create dependency edges and are resolved at plan time: to the
stored state of an unchanged resource, or to the planned value (possibly unknown) of a
resource changed in the same change, exactly as Terraform does.

Pure functions with no I/O: both the server (to validate a request and record edges)
and the plan activity use them, and workflows may import them safely.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

__all__ = [
    "RESOURCE_ID_PATTERN",
    "Reference",
    "ReferenceError",
    "find_references",
    "format_path",
    "referenced_ids",
    "references_by_attribute",
    "resolve_references",
    "template_parts",
    "whole_reference",
]

RESOURCE_ID_PATTERN = r"^[A-Za-z][A-Za-z0-9_-]{0,127}$"

# ${ id . attr ( .attr | [n] | ["key"] )* }
_SEGMENT = r'(?:\.[A-Za-z_][A-Za-z0-9_-]*|\[\d+\]|\["(?:[^"\\]|\\.)*"\])'
_REF = re.compile(r"(?<!\$)\$\{\s*([A-Za-z][A-Za-z0-9_-]*)(" + _SEGMENT + r"+)\s*\}")
_ANY_OPEN = re.compile(r"(?<!\$)\$\{")
_PART = re.compile(r'\.([A-Za-z_][A-Za-z0-9_-]*)|\[(\d+)\]|\["((?:[^"\\]|\\.)*)"\]')

PathPart = str | int


class ReferenceError(ValueError):
    """A malformed or unresolvable reference; the message names it and the fix."""


@dataclass(frozen=True)
class Reference:
    resource_id: str
    path: tuple[PathPart, ...]

    def __str__(self) -> str:
        return "${" + self.resource_id + format_path(self.path) + "}"


def format_path(path: tuple[PathPart, ...]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _parse_path(text: str) -> tuple[PathPart, ...]:
    parts: list[PathPart] = []
    for attr, index, key in _PART.findall(text):
        if attr:
            parts.append(attr)
        elif index:
            parts.append(int(index))
        else:
            parts.append(json.loads(f'"{key}"'))
    return tuple(parts)


def _strings(value: Any, where: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield where or "(root)", value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(v, f"{where}.{k}" if where else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _strings(v, f"{where}[{i}]")


def find_references(config: Any) -> list[Reference]:
    """Every reference in ``config``, in order of appearance; malformed ones raise."""
    found: list[Reference] = []
    for where, text in _strings(config):
        matched = {m.start() for m in _REF.finditer(text)}
        for opening in _ANY_OPEN.finditer(text):
            if opening.start() not in matched:
                raise ReferenceError(
                    # The value is not echoed: a config string may hold a secret.
                    f"{where}: has a '${{' that is not a reference; write "
                    "${resource_id.attribute} (e.g. ${my-bucket.arn}) or $${ for a literal"
                )
        for m in _REF.finditer(text):
            found.append(Reference(m.group(1), _parse_path(m.group(2))))
    return found


def whole_reference(text: str) -> Reference | None:
    """The reference ``text`` consists of, if it is exactly one (the value keeps its type)."""
    whole = _REF.fullmatch(text)
    return Reference(whole.group(1), _parse_path(whole.group(2))) if whole else None


def template_parts(text: str) -> list[str | Reference]:
    """``text`` as literal pieces and references, in order; literal pieces keep ``$${``."""
    parts: list[str | Reference] = []
    last = 0
    for m in _REF.finditer(text):
        if m.start() > last:
            parts.append(text[last : m.start()])
        parts.append(Reference(m.group(1), _parse_path(m.group(2))))
        last = m.end()
    if last < len(text):
        parts.append(text[last:])
    return parts


def references_by_attribute(config: Any) -> list[tuple[str, Reference]]:
    """(top-level attribute, reference) pairs: where in a config each reference is used."""
    if not isinstance(config, dict):
        return []
    return [(key, ref) for key, value in config.items() for ref in find_references(value)]


def referenced_ids(config: Any) -> set[str]:
    return {ref.resource_id for ref in find_references(config)}


Lookup = Callable[[Reference], Any]


def resolve_references(config: Any, lookup: Lookup, *, unknown: object) -> Any:
    """``config`` with every reference replaced by ``lookup(ref)``.

    ``lookup`` returns the value or the ``unknown`` sentinel; an interpolated string
    with an unknown part is unknown as a whole.
    """
    if isinstance(config, dict):
        return {k: resolve_references(v, lookup, unknown=unknown) for k, v in config.items()}
    if isinstance(config, list):
        return [resolve_references(v, lookup, unknown=unknown) for v in config]
    if not isinstance(config, str) or "${" not in config:
        return config
    whole = _REF.fullmatch(config.strip())
    if whole and config.strip() == config:
        return lookup(Reference(whole.group(1), _parse_path(whole.group(2))))
    pieces: list[str] = []
    last = 0
    is_unknown = False
    for m in _REF.finditer(config):
        pieces.append(config[last : m.start()])
        value = lookup(Reference(m.group(1), _parse_path(m.group(2))))
        if value is unknown:
            is_unknown = True
        elif isinstance(value, bool):
            pieces.append("true" if value else "false")
        elif isinstance(value, str | int | float):
            pieces.append(str(value))
        elif value is None:
            raise ReferenceError(f"{m.group(0)} is null and cannot be interpolated into a string")
        else:
            raise ReferenceError(
                f"{m.group(0)} is a {type(value).__name__}, not text; use it as the whole "
                "value instead of inside a string"
            )
        last = m.end()
    if is_unknown:
        return unknown
    pieces.append(config[last:])
    return "".join(pieces).replace("$${", "${")


def lookup_path(value: Any, path: tuple[PathPart, ...], ref: Reference) -> Any:
    """Follow ``path`` into a state value; a missing step is a clear error."""
    current = value
    for i, part in enumerate(path):
        where = ref.resource_id + format_path(path[: i + 1])
        if isinstance(part, int):
            if not isinstance(current, list) or part >= len(current):
                raise ReferenceError(f"{ref}: {where} does not exist")
            current = current[part]
        else:
            if not isinstance(current, dict) or part not in current:
                raise ReferenceError(
                    f"{ref}: {where} is not an attribute of {ref.resource_id}; check the "
                    "attribute name with provider-resources-describe"
                )
            current = current[part]
    return current
