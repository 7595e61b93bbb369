"""``intent changes`` for on-call work, against a running stack's REST API."""

from __future__ import annotations

import asyncio
import json

import pytest
from typer.testing import CliRunner

from cli import app
from tests.changes.test_lifecycle import bucket_names
from tests.changes.test_references_and_failures import POLICY_NO_RESOURCE, POLICY_OK, settled
from tests.support.moto import MotoServer
from tests.support.stack import IntentStack

pytestmark = pytest.mark.slow


async def intent(stack: IntentStack, token: str, *args: str) -> str:
    """Run the CLI in a thread: the stack's server lives on this test's event loop."""
    env = {"INTENT_URL": stack.base_url, "INTENT_TOKEN": token}
    result = await asyncio.to_thread(CliRunner().invoke, app, list(args), env=env)
    assert result.exit_code == 0, result.output
    return result.output


async def test_on_call_retry_abandon_and_confirm_from_the_cli(
    aws_stack: IntentStack, moto_server: MotoServer
) -> None:
    token = await aws_stack.token("oncall")
    http = await aws_stack.http("oncall")
    await http.post("/api/v1/projects", json={"name": "cli"})
    await http.post("/api/v1/projects/cli/lock")

    async def change(operations: list[dict[str, object]]) -> str:
        response = await http.post("/api/v1/projects/cli/changes", json={"operations": operations})
        assert response.status_code == 202, response.text
        change_id: str = response.json()["change_id"]
        await settled(http, change_id)
        return change_id

    broken = {"name": "cli-policy", "policy": POLICY_NO_RESOURCE}
    first = await change(
        [
            {
                "kind": "create",
                "resource_id": "p",
                "resource_type": "aws_iam_policy",
                "config": broken,
            }
        ]
    )
    listed = await intent(aws_stack, token, "changes", "list", "--status", "failed")
    assert first in listed
    shown = await intent(aws_stack, token, "changes", "show", first)
    assert "[failed]" in shown and "MalformedPolicyDocument" in shown

    patch = json.dumps({"policy": POLICY_OK})
    await intent(aws_stack, token, "changes", "retry", first, "--patch", f"p={patch}")
    assert (await settled(http, first))["status"] == "applied"

    second = await change(
        [
            {
                "kind": "create",
                "resource_id": "q",
                "resource_type": "aws_iam_policy",
                "config": {"name": "cli-q", "policy": POLICY_NO_RESOURCE},
            }
        ]
    )
    out = await intent(aws_stack, token, "changes", "abandon", second, "--comment", "nope")
    assert "[abandoned]" in out

    await change(
        [
            {
                "kind": "create",
                "resource_id": "b",
                "resource_type": "aws_s3_bucket",
                "config": {"bucket": "cli-bucket"},
            }
        ]
    )
    delete = await change([{"kind": "delete", "resource_id": "b"}])
    assert "[awaiting_confirmation]" in await intent(aws_stack, token, "changes", "show", delete)
    await intent(aws_stack, token, "changes", "confirm", delete, "--comment", "on-call ok")
    assert (await settled(http, delete))["status"] == "applied"
    assert "cli-bucket" not in bucket_names(moto_server)
    history = (await http.get("/api/v1/projects/cli/history", params={"change_id": delete})).json()
    confirmed = next(e for e in history["entries"] if e["status"] == "confirmed")
    assert confirmed["details"]["decided_by"] == "oncall"
    assert confirmed["reasons"] == ["on-call ok"]
