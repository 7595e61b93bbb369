"""What the AI client reads: short summaries of tool results and compact schemas."""

from __future__ import annotations

import json
from typing import Any

from api.mcp.describe import compact_description
from api.mcp.results import summarize
from tests.api.mcp_client import mcp_client, text_of
from tests.support.stack import IntentStack

WAITING: dict[str, Any] = {
    "change_id": "change-p-01",
    "project": "p",
    "status": "awaiting_confirmation",
    "message": "",
    "operations": [
        {
            "resource_id": "logs",
            "resource_type": "aws_s3_bucket",
            "operation": "delete",
            "action": "delete",
            "status": "awaiting_confirmation",
        }
    ],
    "waiting_for": ["logs: deletes a real resource"],
}


def test_an_awaiting_change_says_what_to_confirm_and_how() -> None:
    text = summarize(WAITING)
    assert "delete aws_s3_bucket.logs: awaiting_confirmation" in text
    assert "logs: deletes a real resource" in text
    assert "change-confirm with change_id change-p-01" in text
    assert "change-reject" in text and "ask" in text


def test_a_denied_operation_says_why() -> None:
    denied = {
        **WAITING,
        "status": "denied",
        "message": "denied by policy",
        "operations": [
            {
                **WAITING["operations"][0],
                "status": "denied",
                "reasons": ["only-buckets: only buckets here"],
            }
        ],
    }
    text = summarize(denied)
    assert text.splitlines()[0].endswith("denied — denied by policy")
    assert "(only-buckets: only buckets here)" in text
    assert "change-confirm" not in text


def test_warnings_reach_the_text() -> None:
    """A project about to expire, or a re-created resource's lost data, is said in words."""
    restored = {
        **WAITING,
        "status": "applied",
        "operations": [
            {
                **WAITING["operations"][0],
                "action": "create",
                "status": "applied",
                "warnings": ["logs is re-created: the data it held is not restored"],
            }
        ],
        "warnings": ["project p expires at 2026-12-01 10:00 UTC (in 40 minutes)"],
    }
    text = summarize(restored)
    assert "  warning: logs is re-created: the data it held is not restored" in text
    assert "Warning: project p expires" in text


def test_lists_show_counts_and_names_not_every_field() -> None:
    projects = {
        "projects": [
            {"name": f"p{i}", "id": f"id{i}", "created_at": "2026-01-01T00:00:00Z"}
            for i in range(20)
        ],
        "next_cursor": "p19",
    }
    text = summarize(projects)
    assert text.startswith("20 projects: p0, p1")
    assert "and 8 more" in text and "cursor=p19" in text
    assert "created_at" not in text and "id0" not in text


def test_compact_description_keeps_what_a_config_needs() -> None:
    described = {
        "type_name": "aws_thing",
        "description": "A long description " * 50,
        "attributes": [
            {"name": "name", "type": "string", "required": True},
            {"name": "tags", "type": "map(string)", "optional": True},
            {"name": "password", "type": "string", "optional": True, "sensitive": True},
            {"name": "old", "type": "string", "optional": True, "deprecated": True},
            {"name": "arn", "type": "string", "computed": True},
        ],
        "blocks": [
            {
                "name": "rule",
                "nesting": "list",
                "max_items": 1,
                "attributes": [
                    {"name": "status", "type": "string", "required": True},
                    {"name": "days", "type": "number", "optional": True},
                    {"name": "id", "type": "string", "computed": True},
                ],
                "blocks": [{"name": "filter", "nesting": "list"}],
            },
            {"name": "legacy", "nesting": "list", "deprecated": True},
        ],
    }
    compact = compact_description(described)
    assert compact["required"] == {"name": "string"}
    assert compact["optional"] == {"tags": "map(string)", "password": "string"}
    assert compact["read_only"] == ["arn"]
    assert compact["sensitive"] == ["password"]
    assert compact["blocks"] == {"rule": "list (max 1) of {status*, days, filter {…}}"}
    assert "2 deprecated" in compact["left_out"]
    assert len(json.dumps(compact)) < len(json.dumps(described)) / 4


async def test_tool_results_carry_the_data_once(stack: IntentStack) -> None:
    async with mcp_client(stack.mcp_url, await stack.token("alice")) as client:
        created = await client.call_tool("project-create", {"name": "once"})
        assert not created.is_error
        assert created.structured_content["name"] == "once"
        assert len(created.content) == 1
        text = text_of(created)
        assert "name=once" in text
        assert not text.lstrip().startswith("{")  # a summary, not the JSON again
        assert len(text) < len(json.dumps(created.structured_content))
        failed = await client.call_tool("project-use", {"project": "missing"})
        assert failed.is_error and "project-create" in text_of(failed)  # errors keep their text
