"""The walkthrough's resource steps through a real MCP client over HTTP.

Real Temporal dev server, the real hashicorp/aws provider, moto as AWS; every step is
checked against moto with boto3.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from mcp.client import Client as McpClient
from mcp.client import ClientRequestContext
from mcp.types import ElicitRequestParams, ElicitResult

from tests.api.mcp_client import mcp_client, text_of
from tests.support.moto import MotoServer
from tests.support.stack import IntentStack

pytestmark = pytest.mark.slow


async def call(client: McpClient, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    content: dict[str, Any] = result.structured_content
    return content


async def start_project(client: McpClient, name: str) -> None:
    await call(client, "project-create", {"name": name})
    await call(client, "project-use", {"project": name})


def bucket_tags(moto: MotoServer, bucket: str) -> dict[str, str]:
    tags = moto.client("s3").get_bucket_tagging(Bucket=bucket)["TagSet"]
    return {t["Key"]: t["Value"] for t in tags}


def bucket_names(moto: MotoServer) -> set[str]:
    return {b["Name"] for b in moto.client("s3").list_buckets()["Buckets"]}


class Elicitor:
    """A client-side user who answers elicitation requests, and remembers being asked."""

    def __init__(self, confirm: bool) -> None:
        self.confirm = confirm
        self.asked: list[str] = []

    async def __call__(
        self, context: ClientRequestContext, params: ElicitRequestParams
    ) -> ElicitResult:
        self.asked.append(params.message)
        return ElicitResult(action="accept", content={"confirm": self.confirm, "comment": "ok"})


async def test_walkthrough_bucket_lifecycle_and_import(
    aws_stack: IntentStack, moto_server: MotoServer
) -> None:
    token = await aws_stack.token("alice")
    user = Elicitor(confirm=True)
    async with mcp_client(aws_stack.mcp_url, token, elicitation_callback=user) as client:
        await start_project(client, "walk")

        created = await call(
            client,
            "lifecycle-resources-create",
            {
                "resources": [
                    {
                        "resource_id": "attachments",
                        "resource_type": "aws_s3_bucket",
                        "config": {"bucket": "dev-attachments-123", "tags": {"Team": "web"}},
                    }
                ]
            },
        )
        assert created["status"] == "applied", created
        op = created["operations"][0]
        assert op["action"] == "create" and op["outputs"]["arn"].endswith("dev-attachments-123")
        assert bucket_tags(moto_server, "dev-attachments-123") == {"Team": "web"}

        # Update: a partial config merged over the stored one; null removes a key.
        updated = await call(
            client,
            "lifecycle-resources-update",
            {
                "resources": [
                    {
                        "resource_id": "attachments",
                        "config": {
                            "tags": {"Environment": "dev", "Owner": "platform-team", "Team": None}
                        },
                    }
                ]
            },
        )
        assert updated["status"] == "applied", updated
        assert updated["operations"][0]["action"] == "update"
        assert updated["operations"][0]["replace_paths"] == []
        assert bucket_tags(moto_server, "dev-attachments-123") == {
            "Environment": "dev",
            "Owner": "platform-team",
        }
        state = await call(client, "state-get", {"resource_id": "attachments"})
        assert state["config"]["tags"] == {"Environment": "dev", "Owner": "platform-team"}
        assert state["state"]["bucket"] == "dev-attachments-123"

        # Import SSM parameters created outside intent.
        ssm = moto_server.client("ssm")
        for name, value in (("/walk/db-host", "db.internal"), ("/walk/db-port", "5432")):
            ssm.put_parameter(Name=name, Value=value, Type="String")
        imported = await call(
            client,
            "lifecycle-resources-import",
            {
                "resources": [
                    {
                        "resource_id": "db-host",
                        "resource_type": "aws_ssm_parameter",
                        "import_id": "/walk/db-host",
                    },
                    {
                        "resource_id": "db-port",
                        "resource_type": "aws_ssm_parameter",
                        "import_id": "/walk/db-port",
                    },
                ]
            },
        )
        assert imported["status"] == "applied", imported
        listed = await call(client, "state-list", {})
        ids = {r["resource_id"]: r for r in listed["resources"]}
        assert set(ids) == {"attachments", "db-host", "db-port"}
        assert ids["db-port"]["resource_type"] == "aws_ssm_parameter"
        port = await call(client, "state-get", {"resource_id": "db-port"})
        assert port["state"]["name"] == "/walk/db-port"
        # An import changes nothing in the cloud and the next plan is a no-op.
        plan = await call(
            client,
            "resource-plan",
            {"operations": [{"kind": "update", "resource_id": "db-port", "config": {}}]},
        )
        assert plan["status"] == "planned" and plan["operations"][0]["action"] == "no-op", plan
        assert ssm.get_parameter(Name="/walk/db-port")["Parameter"]["Value"] == "5432"

        # Delete with confirmation asked of the user through elicitation.
        deleted = await call(
            client, "lifecycle-resources-delete", {"resource_ids": ["attachments"]}
        )
        assert deleted["status"] == "applied", deleted
        assert len(user.asked) == 1 and "delete: aws_s3_bucket.attachments" in user.asked[0]
        assert "dev-attachments-123" not in bucket_names(moto_server)

        history = await call(client, "history-list", {"resource_id": "attachments", "limit": 50})
        seen = [(e["what"], e["status"]) for e in history["entries"]]
        for expected in (
            ("resource create", "applied"),
            ("resource update", "applied"),
            ("resource delete", "confirmed"),
            ("resource delete", "applied"),
        ):
            assert expected in seen, seen
        confirmed = next(e for e in history["entries"] if e["status"] == "confirmed")
        assert confirmed["actor"] == "alice" and confirmed["via"] == "mcp"


@pytest.mark.parametrize(
    ("mode", "confirm"), [("legacy", True), ("legacy", False), ("auto", False)]
)
async def test_elicitation_answer_decides_the_delete(
    aws_stack: IntentStack, moto_server: MotoServer, mode: str, confirm: bool
) -> None:
    """Handshake-era clients are asked mid-call; 2026-07-28 ones through input rounds."""
    token = await aws_stack.token("alice")
    user = Elicitor(confirm=confirm)
    bucket = f"elicit-{mode}-{str(confirm).lower()}"
    async with mcp_client(aws_stack.mcp_url, token, elicitation_callback=user, mode=mode) as client:
        await start_project(client, bucket)
        await call(
            client,
            "lifecycle-resources-create",
            {
                "resources": [
                    {
                        "resource_id": "b",
                        "resource_type": "aws_s3_bucket",
                        "config": {"bucket": bucket},
                    }
                ]
            },
        )
        decided = await call(client, "lifecycle-resources-delete", {"resource_ids": ["b"]})
    assert len(user.asked) == 1
    if confirm:
        assert decided["status"] == "applied", decided
        assert bucket not in bucket_names(moto_server)
    else:
        assert decided["status"] == "rejected", decided
        assert bucket in bucket_names(moto_server)


async def test_delete_without_elicitation_waits_for_the_tool_or_rest(
    aws_stack: IntentStack, moto_server: MotoServer
) -> None:
    token = await aws_stack.token("alice")
    async with mcp_client(aws_stack.mcp_url, token) as client:  # no elicitation support
        await start_project(client, "toolpath")
        await call(
            client,
            "lifecycle-resources-create",
            {
                "resources": [
                    {
                        "resource_id": "one",
                        "resource_type": "aws_s3_bucket",
                        "config": {"bucket": "tool-path-one"},
                    },
                    {
                        "resource_id": "two",
                        "resource_type": "aws_s3_bucket",
                        "config": {"bucket": "tool-path-two"},
                    },
                ]
            },
        )
        waiting = await call(client, "lifecycle-resources-delete", {"resource_ids": ["one"]})
        assert waiting["status"] == "awaiting_confirmation", waiting
        assert "change-confirm" in waiting["next_steps"]
        assert "tool-path-one" in bucket_names(moto_server)  # nothing happened yet

        done = await call(client, "change-confirm", {"change_id": waiting["change_id"]})
        assert done["status"] == "applied", done
        assert "tool-path-one" not in bucket_names(moto_server)

        # The REST path: another user may not confirm alice's change; alice may.
        waiting = await call(client, "lifecycle-resources-delete", {"resource_ids": ["two"]})
        change_id = waiting["change_id"]
        bob = await aws_stack.http("bob")
        refused = await bob.post(f"/api/v1/changes/{change_id}/confirm")
        assert refused.status_code == 403, refused.text
        alice = await aws_stack.http("alice")
        confirmed = await alice.post(
            f"/api/v1/changes/{change_id}/confirm", json={"comment": "yes"}
        )
        assert confirmed.status_code == 200, confirmed.text
        detail = await _settled(alice, change_id)
        assert detail["status"] == "applied"
        assert "tool-path-two" not in bucket_names(moto_server)


async def _settled(http: httpx.AsyncClient, change_id: str) -> dict[str, Any]:
    import asyncio

    for _ in range(300):
        body = (await http.get(f"/api/v1/changes/{change_id}")).json()
        if body["status"] not in ("applying", "planning"):
            return dict(body)
        await asyncio.sleep(0.1)
    raise AssertionError(f"change {change_id} did not settle")


async def test_replacement_waits_for_confirmation_then_replaces(
    aws_stack: IntentStack, moto_server: MotoServer
) -> None:
    token = await aws_stack.token("alice")
    async with mcp_client(aws_stack.mcp_url, token) as client:
        await start_project(client, "replacing")
        await call(
            client,
            "lifecycle-resources-create",
            {
                "resources": [
                    {
                        "resource_id": "b",
                        "resource_type": "aws_s3_bucket",
                        "config": {"bucket": "replace-old"},
                    }
                ]
            },
        )
        renamed = await call(
            client,
            "lifecycle-resources-update",
            {"resources": [{"resource_id": "b", "config": {"bucket": "replace-new"}}]},
        )
        assert renamed["status"] == "awaiting_confirmation", renamed
        op = renamed["operations"][0]
        assert op["action"] == "replace" and op["replace_paths"] == ["bucket"]
        assert op["changes"]["bucket"] == {"before": "replace-old", "after": "replace-new"}
        assert "replaces a real resource" in renamed["waiting_for"][0]
        done = await call(client, "change-confirm", {"change_id": renamed["change_id"]})
        assert done["status"] == "applied", done
    names = bucket_names(moto_server)
    assert "replace-new" in names and "replace-old" not in names
