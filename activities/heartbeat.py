"""Heartbeats while provider work runs, so a dead worker's attempt moves on quickly."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from temporalio import activity

__all__ = ["heartbeating"]

# Activities heartbeat every 2 s; their heartbeat timeout (10 s) notices a dead worker.
INTERVAL = 2.0


@contextlib.asynccontextmanager
async def heartbeating() -> AsyncIterator[None]:
    """Heartbeat in the background while the block runs (a provider call may be long)."""

    async def beat() -> None:
        while True:
            activity.heartbeat()
            await asyncio.sleep(INTERVAL)

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
