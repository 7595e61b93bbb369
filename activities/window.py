"""A sliding window over a dependency order.

Each operation starts as soon as every operation it waits for has finished, with at
most ``limit`` running at once: no waves, so one slow operation holds back only what
depends on it. An operation whose predecessor failed (or was itself blocked) does not
run. Plan and apply both use it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Literal

__all__ = ["Outcome", "run_window"]

Outcome = Literal["done", "failed", "blocked"]


async def run_window(
    order: Mapping[int, frozenset[int]],
    limit: int,
    run: Callable[[int], Awaitable[bool]],
) -> dict[int, Outcome]:
    """Run ``run(i)`` for every index of ``order`` (index → what it waits for).

    ``run`` returns whether the operation succeeded. If it raises, its dependents are
    blocked, the others still finish, and the first exception is raised at the end, so
    nothing is left running half-way.
    """
    finished = {i: asyncio.Event() for i in order}
    outcomes: dict[int, Outcome] = {}
    slots = asyncio.Semaphore(max(1, limit))

    async def one(index: int) -> None:
        outcomes[index] = "failed"  # until run() says otherwise
        try:
            for before in order[index]:
                await finished[before].wait()
            if any(outcomes[before] != "done" for before in order[index]):
                outcomes[index] = "blocked"
                return
            async with slots:
                if await run(index):
                    outcomes[index] = "done"
        finally:
            finished[index].set()

    results = await asyncio.gather(*(one(i) for i in sorted(order)), return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return outcomes
