"""Session-wide test plumbing shared by every suite."""

from __future__ import annotations

import os

import pytest

from tests.support import *  # noqa: F403  (fixtures are registered by import)


def pytest_unconfigure(config: pytest.Config) -> None:
    # The Temporal SDK's core can crash while the interpreter tears down, after every
    # test has passed (sdk-python issue 300). Leave with the session's real status
    # before that teardown can turn a green run red (or a red one green).
    status = getattr(config, "_intent_exitstatus", None)
    if status is not None:
        os._exit(int(status))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    session.config._intent_exitstatus = exitstatus  # type: ignore[attr-defined]
