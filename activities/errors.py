"""Errors activities raise for the caller to fix, not for an operator to debug.

They end the activity without retries, are logged as one line (not a traceback: a
thousand malformed requests must not bury a real failure in the worker's log), and
their message reaches the user unchanged.
"""

from __future__ import annotations

import logging

from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

__all__ = ["user_error"]

log = logging.getLogger("activities")


def user_error(message: str, type: str) -> ApplicationError:
    """A non-retryable, benign ``ApplicationError`` of ``type``, logged in one line."""
    log.info("refused (%s): %s", type, message)
    return ApplicationError(
        message, type=type, non_retryable=True, category=ApplicationErrorCategory.BENIGN
    )
