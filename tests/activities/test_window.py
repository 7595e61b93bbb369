"""The sliding window that plan and apply run over a change's dependency order."""

from __future__ import annotations

import asyncio

import pytest

from activities.window import run_window


async def test_each_operation_starts_when_its_predecessors_finish_not_in_waves() -> None:
    # 0 is slow; 1 is quick and 2 waits only for 1: it must not wait for 0.
    order = {0: frozenset[int](), 1: frozenset[int](), 2: frozenset({1}), 3: frozenset({0, 2})}
    delays = {0: 0.2, 1: 0.01, 2: 0.01, 3: 0.01}
    finished: list[int] = []

    async def run(index: int) -> bool:
        await asyncio.sleep(delays[index])
        finished.append(index)
        return True

    outcomes = await run_window(order, 10, run)
    assert finished == [1, 2, 0, 3]
    assert set(outcomes.values()) == {"done"}


async def test_at_most_limit_run_at_once() -> None:
    running = 0
    peak = 0

    async def run(index: int) -> bool:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.01)
        running -= 1
        return True

    await run_window({i: frozenset[int]() for i in range(25)}, 4, run)
    assert peak == 4


async def test_a_failure_blocks_only_what_depends_on_it() -> None:
    order = {0: frozenset[int](), 1: frozenset({0}), 2: frozenset({1}), 3: frozenset[int]()}
    ran: list[int] = []

    async def run(index: int) -> bool:
        ran.append(index)
        return index != 0

    outcomes = await run_window(order, 10, run)
    assert outcomes == {0: "failed", 1: "blocked", 2: "blocked", 3: "done"}
    assert sorted(ran) == [0, 3]


async def test_an_exception_finishes_the_others_then_surfaces() -> None:
    order = {0: frozenset[int](), 1: frozenset[int](), 2: frozenset({0})}
    finished: list[int] = []

    async def run(index: int) -> bool:
        if index == 0:
            raise RuntimeError("provider crashed")
        await asyncio.sleep(0.05)
        finished.append(index)
        return True

    with pytest.raises(RuntimeError, match="provider crashed"):
        await run_window(order, 10, run)
    assert finished == [1]  # the independent one completed; the dependent never ran
