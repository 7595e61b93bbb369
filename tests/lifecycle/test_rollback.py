"""Rollback: a new change returns what a past change touched to its configuration
before it. Real provider, moto as AWS, a real MCP client whose user confirms deletes."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from typer.testing import CliRunner

from cli import app
from tests.api.mcp_client import mcp_client, text_of
from tests.changes.test_lifecycle import Elicitor, bucket_names, bucket_tags, call, start_project
from tests.support.moto import MotoServer
from tests.support.stack import IntentStack

pytestmark = pytest.mark.slow

BUCKET = "revert-1"


async def test_revert_update_delete_and_refusal(
    aws_stack: IntentStack, moto_server: MotoServer
) -> None:
    token = await aws_stack.token("alice")
    user = Elicitor(confirm=True)
    async with mcp_client(aws_stack.mcp_url, token, elicitation_callback=user) as client:

        async def applied(tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
            done = await call(client, tool, arguments)
            assert done["status"] == "applied", done
            return done

        await start_project(client, "reverting")
        created = await applied(
            "lifecycle-resources-create",
            {
                "resources": [
                    {
                        "resource_id": "b",
                        "resource_type": "aws_s3_bucket",
                        "config": {"bucket": BUCKET, "tags": {"Team": "web"}},
                    }
                ]
            },
        )
        tagged = await applied(
            "lifecycle-resources-update",
            {
                "resources": [
                    {"resource_id": "b", "config": {"tags": {"Team": "ops", "Env": "dev"}}}
                ]
            },
        )
        assert bucket_tags(moto_server, BUCKET) == {"Team": "ops", "Env": "dev"}

        # Reverting the update restores the tags.
        undone = await applied("change-revert", {"change_id": tagged["change_id"]})
        assert [op["action"] for op in undone["operations"]] == ["update"]
        assert bucket_tags(moto_server, BUCKET) == {"Team": "web"}

        # Reverting a delete re-creates the bucket from its last configuration.
        deleted = await applied("lifecycle-resources-delete", {"resource_ids": ["b"]})
        assert BUCKET not in bucket_names(moto_server)
        recreated = await applied("change-revert", {"change_id": deleted["change_id"]})
        assert [op["action"] for op in recreated["operations"]] == ["create"]
        assert any("not restored" in w for w in recreated["operations"][0]["warnings"])
        assert BUCKET in bucket_names(moto_server)
        assert bucket_tags(moto_server, BUCKET) == {"Team": "web"}

        # A change whose resources later changes touched is refused, naming the latest.
        refused = await client.call_tool("change-revert", {"change_id": tagged["change_id"]})
        assert refused.is_error
        assert recreated["change_id"] in text_of(refused) and "include_later" in text_of(refused)

        # One resource, back to what a given change left it as.
        back = await applied(
            "resource-revert", {"resource_id": "b", "to_change_id": tagged["change_id"]}
        )
        assert [op["action"] for op in back["operations"]] == ["update"]
        assert bucket_tags(moto_server, BUCKET) == {"Team": "ops", "Env": "dev"}

        # Reverting the create with everything after it: the bucket goes (the user is
        # asked, as for any delete).
        asked = len(user.asked)
        gone = await applied(
            "change-revert", {"change_id": created["change_id"], "include_later": True}
        )
        assert [op["action"] for op in gone["operations"]] == ["delete"]
        assert len(user.asked) == asked + 1
        assert BUCKET not in bucket_names(moto_server)
        # An import is not undone by deleting what intent did not create.
        moto_server.client("ssm").put_parameter(Name="/revert/found", Value="x", Type="String")
        imported = await applied(
            "lifecycle-resources-import",
            {
                "resources": [
                    {
                        "resource_id": "found",
                        "resource_type": "aws_ssm_parameter",
                        "import_id": "/revert/found",
                    }
                ]
            },
        )
        kept = await client.call_tool("change-revert", {"change_id": imported["change_id"]})
        assert kept.is_error and "state-eject" in text_of(kept)

        history = await call(client, "history-list", {"limit": 100})
        reverts = [e for e in history["entries"] if e["what"] == "change revert"]
        assert len(reverts) == 4 and all(e["actor"] == "alice" for e in reverts)

    # The CLI names the later change too.
    env = {"INTENT_URL": aws_stack.base_url, "INTENT_TOKEN": token}
    out = await asyncio.to_thread(
        CliRunner().invoke, app, ["changes", "revert", tagged["change_id"]], env=env
    )
    assert out.exit_code == 1 and gone["change_id"] in out.output
