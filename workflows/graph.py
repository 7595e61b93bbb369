"""Dependency order for the operations of one change.

Creates, updates and imports run after the resources they reference; deletes run in
reverse (a dependent is deleted before what it depends on). Operations in the same
wave are independent and may run in parallel. Pure and deterministic: workflows use it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

__all__ = ["CycleError", "GraphOperation", "apply_waves"]


class CycleError(ValueError):
    pass


@dataclass(frozen=True)
class GraphOperation:
    index: int
    resource_id: str
    kind: str  # create / update / delete / import / refresh / replace
    depends_on: frozenset[str] = field(default_factory=frozenset)


def apply_waves(
    operations: Sequence[GraphOperation],
    existing_edges: Mapping[str, frozenset[str]] | None = None,
) -> list[list[int]]:
    """Operation indexes grouped into waves; each wave only needs earlier waves.

    ``existing_edges`` are stored dependencies (resource → what it depends on) of
    resources that are not otherwise part of the change; they order deletes.
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
    waves: list[list[int]] = []
    done: set[int] = set()
    remaining = sorted(before)
    while remaining:
        ready = [i for i in remaining if before[i] <= done]
        if not ready:
            cycle = ", ".join(by_index(operations)[i].resource_id for i in remaining)
            raise CycleError(
                f"these resources depend on each other in a cycle: {cycle}; remove one "
                "reference or dependency"
            )
        waves.append(ready)
        done.update(ready)
        remaining = [i for i in remaining if i not in done]
    return waves


def by_index(operations: Sequence[GraphOperation]) -> dict[int, GraphOperation]:
    return {op.index: op for op in operations}
