"""Fixtures and helpers for the real pieces (Temporal, PostgreSQL, moto, providers).

Importing this module (done by ``tests/conftest.py``) registers the fixtures.
"""

from __future__ import annotations

from tests.support.browser import browser
from tests.support.moto import MotoServer, moto_server
from tests.support.postgres import postgres_server
from tests.support.providers import (
    aws_client,
    aws_pool,
    aws_provider,
    find_aws_provider,
    provider_runtime_dir,
    schema_cache_dir,
)
from tests.support.requirements import require
from tests.support.stack import (
    aws_settings,
    aws_stack,
    database,
    database_url,
    shared_provider_dir,
    stack,
)
from tests.support.temporal import temporal_env, time_skipping_env

__all__ = [
    "MotoServer",
    "aws_client",
    "aws_pool",
    "aws_provider",
    "aws_settings",
    "aws_stack",
    "browser",
    "database",
    "database_url",
    "find_aws_provider",
    "moto_server",
    "postgres_server",
    "provider_runtime_dir",
    "require",
    "schema_cache_dir",
    "shared_provider_dir",
    "stack",
    "temporal_env",
    "time_skipping_env",
]
