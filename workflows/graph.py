"""Dependency order for the operations of one change.

Creates, updates and imports run after the resources they reference; deletes run in
reverse (a dependent is deleted before what it depends on). ``predecessors`` says, for
each operation, which others must finish first; plan and apply run a sliding window
over it (each operation starts as soon as its predecessors finished). Pure and
deterministic: workflows use it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

__all__ = ["CycleError", "GraphOperation", "apply_waves", "predecessors"]


class CycleError(ValueError):
    pass


@dataclass(frozen=True)
class GraphOperation:
    index: int
    resource_id: str
    kind: str  # create / update / delete / import / refresh / replace
    depends_on: frozenset[str] = field(default_factory=frozenset)


def predecessors(
    operations: Sequence[GraphOperation],
    existing_edges: Mapping[str, frozenset[str]] | None = None,
) -> dict[int, frozenset[int]]:
    """Operation index → the indexes that must finish before it starts.

    ``existing_edges`` are stored dependencies (resource → what it depends on) of
    resources that are not otherwise part of the change; they order deletes. Raises
    ``CycleError`` naming the resources when the order is impossible.
    """
    by_resource = {op.resource_id: op for op in operations}
    edges = dict(existing_edges or {})
    before: dict[int, set[int]] = {op.index: set() for op in operations}
    for op in operations:
        deps = set(op.depends_on) | set(edges.get(op.resource_id, frozenset()))
        for dep_id in deps:
            dep = by_resource.get(dep_id)
            if dep is None or dep.index == op.index:
                continue
            if op.kind == "delete" and dep.kind == "delete":
                # The dependent goes first: delete op before dep.
                before[dep.index].add(op.index)
            elif op.kind != "delete" and dep.kind != "delete":
                before[op.index].add(dep.index)
            elif op.kind != "delete" and dep.kind == "delete":
                # Something still in use is being deleted; the planner refuses this, so
                # it never reaches ordering. Keep the safe order anyway.
                before[dep.index].add(op.index)
    order = {i: frozenset(deps) for i, deps in before.items()}
    _check_acyclic(order, {op.index: op.resource_id for op in operations})
    return order


def _check_acyclic(order: Mapping[int, frozenset[int]], names: Mapping[int, str]) -> None:
    done: set[int] = set()
    remaining = sorted(order)
    while remaining:
        ready = [i for i in remaining if order[i] <= done]
        if not ready:
            cycle = ", ".join(names[i] for i in remaining)
            raise CycleError(
                f"these resources depend on each other in a cycle: {cycle}; remove one "
                "reference or dependency"
            )
        done.update(ready)
        remaining = [i for i in remaining if i not in done]


def apply_waves(
    operations: Sequence[GraphOperation],
    existing_edges: Mapping[str, frozenset[str]] | None = None,
) -> list[list[int]]:
    """Operation indexes grouped into waves; each wave only needs earlier waves.

    For display (and tests): execution slides over ``predecessors`` instead, so one
    slow operation never holds back the others of its wave.
    """
    order = predecessors(operations, existing_edges)
    waves: list[list[int]] = []
    done: set[int] = set()
    remaining = sorted(order)
    while remaining:
        ready = [i for i in remaining if order[i] <= done]
        waves.append(ready)
        done.update(ready)
        remaining = [i for i in remaining if i not in done]
    return waves
