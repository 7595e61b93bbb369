"""A resource type's schema, compact: what a model needs to write a config.

``provider-resources-describe`` answers with this unless asked for ``detail``: the
arguments one sets (required, then optional) with their types, nested blocks as one
line each, the read-only attributes one can reference, sensitive names, and a count
of what was left out (descriptions, deprecated attributes and blocks). The full schema
(18 KB for ``aws_s3_bucket``) is one ``detail: true`` away.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["compact_description"]


def _type(attribute: Mapping[str, Any]) -> str:
    if attribute.get("type"):
        return str(attribute["type"])
    nested = attribute.get("attributes") or []
    names = ", ".join(a["name"] for a in nested if not a.get("deprecated"))
    return f"{attribute.get('nesting', 'single')} of {{{names}}}"


def _block(block: Mapping[str, Any]) -> str:
    """``list (max 1) of {status*, mfa_delete}``: * marks required attributes."""
    nesting = block.get("nesting", "list")
    limits = []
    if block.get("min_items"):
        limits.append(f"min {block['min_items']}")
    if block.get("max_items"):
        limits.append(f"max {block['max_items']}")
    shape = f"{nesting} ({', '.join(limits)})" if limits else nesting
    fields = [
        a["name"] + ("*" if a.get("required") else "")
        for a in block.get("attributes") or []
        if not a.get("deprecated") and (a.get("required") or a.get("optional"))
    ]
    fields += [f"{b['name']} {{…}}" for b in block.get("blocks") or [] if not b.get("deprecated")]
    return f"{shape} of {{{', '.join(fields)}}}"


def compact_description(described: Mapping[str, Any]) -> dict[str, Any]:
    """The compact view of one ``ResourceTypeDescription`` (as dumped by the lookup)."""
    required: dict[str, str] = {}
    optional: dict[str, str] = {}
    read_only: list[str] = []
    sensitive: list[str] = []
    left_out = 0
    for attribute in described.get("attributes") or []:
        name = attribute["name"]
        if attribute.get("deprecated"):
            left_out += 1
            continue
        if attribute.get("sensitive"):
            sensitive.append(name)
        if attribute.get("required"):
            required[name] = _type(attribute)
        elif attribute.get("optional"):
            optional[name] = _type(attribute)
        else:
            read_only.append(name)
    blocks: dict[str, str] = {}
    for block in described.get("blocks") or []:
        if block.get("deprecated"):
            left_out += 1
            continue
        blocks[block["name"]] = _block(block)
    view: dict[str, Any] = {"type_name": described.get("type_name")}
    if described.get("deprecated"):
        view["deprecated"] = True
    view.update(
        {
            "required": required,
            "optional": optional,
            "blocks": blocks,
            "read_only": read_only,
        }
    )
    if sensitive:
        view["sensitive"] = sensitive
    view["left_out"] = (
        f"descriptions and {left_out} deprecated attributes/blocks; pass detail: true "
        "for the full schema"
    )
    return view
