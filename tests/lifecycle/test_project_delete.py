"""project-delete with destroy_resources: one confirmed delete change, then the project.
Real provider, moto as AWS; MCP (with the user asked by elicitation) and the CLI."""

from __future__ import annotations

import asyncio

import pytest
from typer.testing import CliRunner

from cli import app
from tests.api.mcp_client import mcp_client, text_of
from tests.changes.test_lifecycle import Elicitor, bucket_names, call, start_project
from tests.support.moto import MotoServer
from tests.support.stack import IntentStack

pytestmark = pytest.mark.slow


def bucket(name: str) -> dict[str, object]:
    return {
        "resources": [
            {"resource_id": "b", "resource_type": "aws_s3_bucket", "config": {"bucket": name}}
        ]
    }


async def test_delete_destroys_resources_first_when_asked(
    aws_stack: IntentStack, moto_server: MotoServer
) -> None:
    token = await aws_stack.token("ada", ["space-admin"])
    user = Elicitor(confirm=True)
    async with mcp_client(aws_stack.mcp_url, token, elicitation_callback=user) as client:
        await start_project(client, "doomed")
        await call(client, "lifecycle-resources-create", bucket("doomed-bucket"))
        refused = await client.call_tool("project-delete", {"project": "doomed"})
        assert refused.is_error and "still manages 1 resource" in text_of(refused)

        gone = await call(
            client, "project-delete", {"project": "doomed", "destroy_resources": True}
        )
        assert gone["deleted"] is True and gone["change"]["status"] == "applied", gone
        assert len(user.asked) == 1 and "delete: aws_s3_bucket.b" in user.asked[0]
        assert "doomed-bucket" not in bucket_names(moto_server)

        await start_project(client, "doomed-cli")
        await call(client, "lifecycle-resources-create", bucket("doomed-cli-bucket"))

    env = {"INTENT_URL": aws_stack.base_url, "INTENT_TOKEN": token}
    done = await asyncio.to_thread(
        CliRunner().invoke,
        app,
        ["projects", "delete", "doomed-cli", "--destroy-resources", "--yes"],
        env=env,
    )
    assert done.exit_code == 0, done.output
    assert "deleted project doomed-cli and its resources" in done.output
    assert "doomed-cli-bucket" not in bucket_names(moto_server)
    admin = await aws_stack.http("ada")
    assert (await admin.get("/api/v1/projects/doomed-cli")).status_code == 404
