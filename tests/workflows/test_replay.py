"""Determinism: workflow histories must replay against the current code.

Two guards. Histories recorded from real runs and committed under ``histories/`` catch
a code change that would break workflows already in flight on a deployed cluster (add a
``workflow.patched`` branch instead). Fresh histories from this run catch
nondeterminism within the code itself (clocks, randomness, unordered iteration).

To re-record after an intentional, compatible change:
``INTENT_RECORD_HISTORIES=1 pytest tests/workflows/test_replay.py``.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from tests.api.mcp_client import mcp_client
from tests.changes.test_lifecycle import Elicitor, call, start_project
from tests.changes.test_references_and_failures import POLICY_NO_RESOURCE, POLICY_OK
from tests.support.stack import IntentStack
from worker import WORKFLOWS

HISTORIES = Path(__file__).parent / "histories"
RECORD = os.environ.get("INTENT_RECORD_HISTORIES") == "1"


def replayer() -> Replayer:
    return Replayer(workflows=list(WORKFLOWS), data_converter=pydantic_data_converter)


def committed() -> list[Path]:
    return sorted(HISTORIES.glob("*.json"))


@pytest.mark.skipif(RECORD, reason="recording new histories")
@pytest.mark.parametrize("path", committed(), ids=lambda p: p.stem)
async def test_committed_histories_replay(path: Path) -> None:
    history = WorkflowHistory.from_json(
        path.stem, json.loads(await asyncio.to_thread(path.read_text))
    )
    await replayer().replay_workflow(history)


def test_there_are_committed_histories() -> None:
    names = {p.stem.rsplit("-", 1)[0] for p in committed()}
    assert {"change-applied", "change-retried", "change-confirmed", "lock"} <= names


@pytest.mark.slow
async def test_fresh_histories_replay(aws_stack: IntentStack) -> None:
    token = await aws_stack.token("alice")
    change_ids: dict[str, str] = {}
    async with mcp_client(aws_stack.mcp_url, token, elicitation_callback=Elicitor(True)) as client:
        await start_project(client, "replay")
        created = await call(
            client,
            "lifecycle-resources-create",
            {
                "resources": [
                    {
                        "resource_id": "b",
                        "resource_type": "aws_s3_bucket",
                        "config": {"bucket": "replay-bucket"},
                    },
                    {
                        "resource_id": "v",
                        "resource_type": "aws_s3_bucket_versioning",
                        "config": {
                            "bucket": "${b.id}",
                            "versioning_configuration": [{"status": "Enabled"}],
                        },
                    },
                ]
            },
        )
        change_ids["change-applied"] = created["change_id"]
        failed = await call(
            client,
            "lifecycle-resources-create",
            {
                "resources": [
                    {
                        "resource_id": "p",
                        "resource_type": "aws_iam_policy",
                        "config": {"name": "replay", "policy": POLICY_NO_RESOURCE},
                    }
                ]
            },
        )
        retried = await call(
            client,
            "change-retry",
            {"change_id": failed["change_id"], "config_patches": {"p": {"policy": POLICY_OK}}},
        )
        assert retried["status"] == "applied", retried
        change_ids["change-retried"] = failed["change_id"]
        deleted = await call(client, "lifecycle-resources-delete", {"resource_ids": ["v", "b"]})
        assert deleted["status"] == "applied", deleted
        change_ids["change-confirmed"] = deleted["change_id"]
        project = (await call(client, "project-release", {"project": "replay"}))["project"]
    change_ids["lock"] = f"lock-{project['id']}"

    histories = {
        name: await aws_stack.client.get_workflow_handle(workflow_id).fetch_history()
        for name, workflow_id in change_ids.items()
    }
    for history in histories.values():
        await replayer().replay_workflow(history)
    if RECORD:
        HISTORIES.mkdir(exist_ok=True)
        for name, history in histories.items():
            (HISTORIES / f"{name}-1.json").write_text(json.dumps(history.to_json_dict(), indent=1))
