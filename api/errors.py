"""Errors a user can act on. Each names what went wrong and the fix.

Services raise these; the REST layer maps them to status codes and the MCP layer to
tool errors, so the words the user reads are the same everywhere.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "Busy",
    "Conflict",
    "Forbidden",
    "IntentError",
    "Invalid",
    "NotFound",
    "Unavailable",
]


class IntentError(Exception):
    status_code = 400
    code = "invalid"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.code, "message": self.message}
        if self.details:
            body["details"] = self.details
        return body


class Invalid(IntentError):
    status_code = 422
    code = "invalid"


class NotFound(IntentError):
    status_code = 404
    code = "not_found"


class Conflict(IntentError):
    status_code = 409
    code = "conflict"


class Busy(IntentError):
    """The project is locked by someone else."""

    status_code = 423
    code = "locked"


class Forbidden(IntentError):
    status_code = 403
    code = "forbidden"


class Unavailable(IntentError):
    status_code = 503
    code = "unavailable"
