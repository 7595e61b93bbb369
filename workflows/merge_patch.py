"""JSON merge patches (RFC 7386), as an update's config is one.

Pure, so the server (which checks and stores retry patches) and the worker (which
merges them over stored configs) share it without loading provider code.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["compose_patches", "merge_patch", "patch_between"]


def merge_patch(base: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """JSON merge patch: objects merge recursively, null removes a key."""
    out = dict(base)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge_patch(out[key], value)
        else:
            out[key] = value
    return out


def compose_patches(first: Mapping[str, Any], second: Mapping[str, Any]) -> dict[str, Any]:
    """One merge patch doing ``first`` then ``second`` (nulls kept: they still remove)."""
    out = dict(first)
    for key, value in second.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = compose_patches(out[key], value)
        else:
            out[key] = value
    return out


def patch_between(current: Mapping[str, Any], target: Mapping[str, Any]) -> dict[str, Any]:
    """The merge patch that turns ``current`` into ``target`` (a rollback's update):
    ``merge_patch(current, patch_between(current, target)) == target``."""
    patch: dict[str, Any] = {key: None for key in current if key not in target}
    for key, value in target.items():
        before = current.get(key)
        if isinstance(value, Mapping) and isinstance(before, Mapping):
            inner = patch_between(before, value)
            if inner:
                patch[key] = inner
        elif value != before or key not in current:
            patch[key] = value
    return patch
