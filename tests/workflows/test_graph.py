"""Dependency order of a change: creates after what they refer to, deletes in reverse."""

from __future__ import annotations

import pytest

from workflows.graph import CycleError, GraphOperation, apply_waves, predecessors


def op(index: int, rid: str, kind: str = "create", *deps: str) -> GraphOperation:
    return GraphOperation(index=index, resource_id=rid, kind=kind, depends_on=frozenset(deps))


def test_creates_wait_for_what_they_refer_to() -> None:
    order = predecessors([op(0, "bucket"), op(1, "versioning", "create", "bucket"), op(2, "x")])
    assert order == {0: frozenset(), 1: frozenset({0}), 2: frozenset()}
    assert apply_waves([op(0, "bucket"), op(1, "versioning", "create", "bucket")]) == [[0], [1]]


def test_deletes_go_dependents_first() -> None:
    order = predecessors(
        [op(0, "bucket", "delete"), op(1, "versioning", "delete", "bucket")],
    )
    assert order == {0: frozenset({1}), 1: frozenset()}


def test_stored_edges_order_deletes_of_resources_outside_the_request() -> None:
    order = predecessors(
        [op(0, "bucket", "delete"), op(1, "policy", "delete")],
        existing_edges={"policy": frozenset({"bucket"})},
    )
    assert order[0] == frozenset({1})


def test_a_cycle_names_its_resources() -> None:
    with pytest.raises(CycleError, match="a, b"):
        predecessors([op(0, "a", "create", "b"), op(1, "b", "create", "a")])


def test_references_to_resources_outside_the_change_do_not_order() -> None:
    assert predecessors([op(0, "v", "update", "stored-bucket")]) == {0: frozenset()}
