"""Log lines that say which request, change and trace they belong to.

``INTENT_LOG_FORMAT=json`` writes one JSON object per line (for log shippers); the
default text format appends the same fields when they are set. The request id comes
from the HTTP middleware, the change id from the Temporal interceptors (client calls
on a change, or the activity's workflow), the trace id from the current span.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, Literal

from opentelemetry import trace

__all__ = [
    "LogFormat",
    "change_id_var",
    "configure_logging",
    "current_change_id",
    "request_id_var",
]

LogFormat = Literal["text", "json"]

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "intent_request_id", default=None
)
change_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "intent_change_id", default=None
)


def current_change_id() -> str | None:
    """The change this code works for: set by a caller, or the running activity's workflow."""
    change = change_id_var.get()
    if change is not None:
        return change
    from temporalio import activity

    if activity.in_activity():
        workflow_id = activity.info().workflow_id or ""
        if workflow_id.startswith("change-"):
            return workflow_id
    return None


class ContextFilter(logging.Filter):
    """Puts ``request_id``, ``change_id``, ``trace_id`` and ``span_id`` on every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        record.change_id = current_change_id()
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            record.trace_id = format(context.trace_id, "032x")
            record.span_id = format(context.span_id, "016x")
        else:
            record.trace_id = record.span_id = None
        return True


_CONTEXT_FIELDS = ("request_id", "change_id", "trace_id", "span_id")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in _CONTEXT_FIELDS:
            doc[name] = getattr(record, name, None)
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return json.dumps(doc, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        tags = [
            f"{name.removesuffix('_id')}={value}"
            for name in _CONTEXT_FIELDS[:3]
            if (value := getattr(record, name, None))
        ]
        return f"{line} [{' '.join(tags)}]" if tags else line


def configure_logging(level: str = "INFO", fmt: LogFormat = "text") -> None:
    """One handler on the root logger; uvicorn and the Temporal SDK log through it."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level.upper())
    logging.captureWarnings(True)  # warnings too, in the same format
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        # uvicorn's own handlers would bypass the format; let records reach the root.
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
