"""History rows say what changed, attribute by attribute, with secrets redacted."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.api.mcp_client import mcp_client
from tests.changes.test_lifecycle import call, start_project
from tests.support.stack import IntentStack

pytestmark = pytest.mark.slow


async def test_history_list_answers_what_an_update_did(aws_stack: IntentStack) -> None:
    token = await aws_stack.token("alice")
    async with mcp_client(aws_stack.mcp_url, token) as client:
        await start_project(client, "told")
        created = await call(
            client,
            "lifecycle-resources-create",
            {
                "resources": [
                    {
                        "resource_id": "b",
                        "resource_type": "aws_s3_bucket",
                        "config": {"bucket": "told-1", "tags": {"Team": "web"}},
                    },
                    {
                        "resource_id": "pw",
                        "resource_type": "aws_ssm_parameter",
                        "config": {"name": "/told/pw", "type": "SecureString", "value": "first-1"},
                    },
                ]
            },
        )
        assert created["status"] == "applied", created
        updated = await call(
            client,
            "lifecycle-resources-update",
            {
                "resources": [
                    {"resource_id": "b", "config": {"tags": {"Team": None, "Env": "dev"}}},
                    {"resource_id": "pw", "config": {"value": "second-2"}},
                ]
            },
        )
        assert updated["status"] == "applied", updated
        history = await call(client, "history-list", {"limit": 50})

    def applied(resource: str, what: str) -> dict[str, Any]:
        return next(
            e
            for e in history["entries"]
            if e["resource"] == resource and e["what"] == what and e["status"] == "applied"
        )

    bucket_update = {c["attribute"]: c for c in applied("b", "resource update")["changes"]}
    # Map entries one by one; the provider's computed tags_all moves with them.
    assert (bucket_update['tags["Team"]']["before"], bucket_update['tags["Team"]']["after"]) == (
        "web",
        None,
    )
    assert bucket_update['tags["Env"]']["after"] == "dev"
    assert 'tags_all["Env"]' in bucket_update
    assert "bucket" not in bucket_update  # untouched attributes are not listed
    secret_update = applied("pw", "resource update")["changes"]
    assert {
        "attribute": "value",
        "before": "(sensitive)",
        "after": "(sensitive)",
        "sensitive": True,
    } in secret_update
    # A create lists what was configured and the object's id, not every computed value.
    created_bucket = {c["attribute"] for c in applied("b", "resource create")["changes"]}
    assert {"bucket", 'tags["Team"]', "id", "arn"} <= created_bucket
    assert "hosted_zone_id" not in created_bucket
    assert "first-1" not in json.dumps(history) and "second-2" not in json.dumps(history)
