"""``${id.attr}`` references and JSON merge patches: pure helpers of requests and plans."""

from __future__ import annotations

import pytest

from workflows.merge_patch import compose_patches, merge_patch
from workflows.references import (
    ReferenceError,
    find_references,
    referenced_ids,
    resolve_references,
)


def test_references_are_found_anywhere_and_escapes_are_not() -> None:
    config = {
        "bucket": "${b.id}",
        "tags": {"name": "logs for ${b.arn}", "literal": "$${not.a_ref}"},
        "rules": [{"target": "${q.arn}"}],
    }
    assert {str(r) for r in find_references(config)} == {"${b.id}", "${b.arn}", "${q.arn}"}
    assert referenced_ids(config) == {"b", "q"}


def test_a_whole_string_reference_keeps_its_type_and_a_partial_one_is_text() -> None:
    values = {"b": {"id": "bkt", "ports": [80, 443]}}

    def lookup(ref: object) -> object:
        from workflows.references import Reference

        assert isinstance(ref, Reference)
        current: object = values[ref.resource_id]
        for part in ref.path:
            current = current[part]  # type: ignore[index]
        return current

    resolved = resolve_references(
        {"ports": "${b.ports}", "name": "bucket ${b.id}!", "lit": "$${x}"}, lookup, unknown=None
    )
    assert resolved == {"ports": [80, 443], "name": "bucket bkt!", "lit": "${x}"}


def test_malformed_references_name_the_problem() -> None:
    with pytest.raises(ReferenceError):
        find_references({"bucket": "${b.}"})


def test_merge_patch_merges_objects_and_null_removes() -> None:
    base = {"tags": {"a": "1", "b": "2"}, "acl": "private", "keep": True}
    assert merge_patch(base, {"tags": {"b": None, "c": "3"}, "acl": None}) == {
        "tags": {"a": "1", "c": "3"},
        "keep": True,
    }
    assert base["tags"] == {"a": "1", "b": "2"}  # the base is not modified


def test_composed_patches_keep_nulls_so_they_still_remove() -> None:
    first = {"tags": {"a": "1"}, "acl": "public"}
    second = {"tags": {"a": None}, "acl": None}
    composed = compose_patches(first, second)
    assert composed == {"tags": {"a": None}, "acl": None}
    assert merge_patch({"tags": {"a": "0", "z": "9"}, "acl": "x"}, composed) == {"tags": {"z": "9"}}
