"""Fixtures for the policy engine suites: one small worker pool for the whole session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from policies._pool import PolicyWorkerPool


@pytest.fixture(scope="session")
def pool() -> Iterator[PolicyWorkerPool]:
    pool = PolicyWorkerPool(size=2)
    yield pool
    pool.close()
