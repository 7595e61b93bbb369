"""Missing dependencies: a skip on a laptop, a failure under ``CI=true``."""

from __future__ import annotations

import os

import pytest

__all__ = ["in_ci", "require"]


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require(condition: object, what: str) -> None:
    """Skip (locally) or fail (in CI) when a real dependency of a test is absent."""
    if condition:
        return
    if in_ci():
        pytest.fail(f"CI=true and {what} is missing; the project's setup must provide it")
    pytest.skip(f"{what} is missing")
