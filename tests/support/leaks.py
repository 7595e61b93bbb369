"""Where a secret could leak, gathered for a byte scan: Temporal's histories, intent's
log lines, and every file of the data directory."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import pytest

from tests.support.stack import IntentStack

__all__ = ["assert_absent", "data_files", "our_logs", "temporal_histories"]

# The test's own clients (MCP, HTTP, boto3) log what they send and receive: that is the
# user's side, not intent's.
_CLIENT_LOGGERS = ("mcp.client", "httpx2", "botocore", "boto3", "urllib3")


async def temporal_histories(stack: IntentStack) -> list[str]:
    """Everything Temporal recorded for the stack's workflows (what its UI shows)."""
    found = []
    query = f'TaskQueue = "{stack.settings.temporal_task_queue}"'
    async for execution in stack.client.list_workflows(query):
        history = await stack.client.get_workflow_handle(execution.id).fetch_history()
        found.append(json.dumps(history.to_json_dict()))
    return found


def our_logs(caplog: pytest.LogCaptureFixture) -> str:
    """Every log line of intent's processes (in-process in the tests)."""
    ours = [r for r in caplog.records if not r.name.startswith(_CLIENT_LOGGERS)]
    return "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in ours)


def data_files(stack: IntentStack) -> list[Path]:
    """Every file of the data directory: the database and its WAL, logs, keys."""
    return [p for p in stack.settings.data_dir.rglob("*") if p.is_file()]


def assert_absent(secrets: Iterable[str], texts: Iterable[str], files: Iterable[Path]) -> None:
    texts, files = list(texts), list(files)
    for secret in secrets:
        for text in texts:
            assert secret not in text, f"a secret ({secret[:4]}…) shows"
        for file in files:
            assert secret.encode() not in file.read_bytes(), f"{secret[:4]}… in clear in {file}"
