"""Fixtures and helpers for the real pieces (Temporal, PostgreSQL, moto, providers).

Importing this module (done by ``tests/conftest.py``) registers the fixtures.
"""

from __future__ import annotations

from tests.support.postgres import postgres_server
from tests.support.requirements import require
from tests.support.stack import database, stack
from tests.support.temporal import temporal_env

__all__ = ["database", "postgres_server", "require", "stack", "temporal_env"]
