"""Bad input gets a clear answer in the caller's terms, and costs the worker nothing.

Through the real server, MCP client, Temporal dev server and AWS provider.
"""

from __future__ import annotations

import asyncio
import logging
import random
import string
from typing import Any

import pytest

from tests.api.mcp_client import mcp_client, text_of
from tests.changes.test_lifecycle import call, start_project
from tests.support.stack import IntentStack

pytestmark = pytest.mark.slow

# What must never reach a caller: internals of the validation library, tracebacks.
LEAKS = ("pydantic", "Arguments", "errors.pydantic.dev", "Traceback", "input_value")


def malformed_lookups(count: int) -> list[tuple[str, dict[str, Any]]]:
    rng = random.Random(20261126)
    junk = string.ascii_letters + string.digits + "/:._-@ ~%$"
    calls: list[tuple[str, dict[str, Any]]] = []
    for i in range(count):
        word = "".join(rng.choice(junk) for _ in range(rng.randint(0, 40)))
        kind = i % 7
        if kind == 0:
            calls.append(("provider-describe", {"provider": word or "/"}))
        elif kind == 1:
            calls.append(("provider-describe", {"provider": f"{word}.example:443/hashicorp/aws"}))
        elif kind == 2:
            calls.append(
                ("provider-describe", {"provider": "hashicorp/aws", "version": "~>" + word})
            )
        elif kind == 3:
            calls.append(
                ("provider-resources-describe", {"resource_types": [word.upper() or "X!"]})
            )
        elif kind == 4:
            calls.append(("provider-describe", {"provider": "hashicorp/local"}))
        elif kind == 5:
            calls.append(("provider-describe", {"provider": ["not", "a", "string"]}))
        else:
            calls.append(("provider-search", {"query": "   "}))
    return calls


async def _workflows(stack: IntentStack) -> int:
    queue = stack.settings.temporal_task_queue
    return len([w async for w in stack.client.list_workflows(f"TaskQueue = '{queue}'")])


async def test_malformed_lookups_start_nothing_and_read_well(
    aws_stack: IntentStack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    token = await aws_stack.token("eve")
    async with mcp_client(aws_stack.mcp_url, token) as client:
        for tool, arguments in malformed_lookups(200):
            result = await client.call_tool(tool, arguments)
            text = text_of(result)
            assert result.is_error, (tool, arguments, text)
            assert not any(leak in text for leak in LEAKS), text
        # The control: a well-formed lookup does start a workflow, and visibility
        # shows it, so "none started" above is an observation, not a blind spot.
        ok = await client.call_tool("provider-search", {"query": "aws"})
        assert not ok.is_error, text_of(ok)
    for _ in range(50):
        if await _workflows(aws_stack) >= 1:
            break
        await asyncio.sleep(0.2)
    assert await _workflows(aws_stack) == 1
    # A refused request is one line in the log, never a traceback.
    assert not [r for r in caplog.records if r.exc_info], [
        r.getMessage() for r in caplog.records if r.exc_info
    ]

    http = await aws_stack.http("eve")
    rest = await http.get("/api/v1/providers/search", params={"q": "aws", "limit": "many"})
    assert rest.status_code == 422
    body = rest.json()
    assert body["message"].startswith("invalid request: limit should be a valid integer")
    assert body["details"]["problems"][0]["argument"] == "limit"
    assert not any(leak in rest.text for leak in LEAKS), rest.text


async def test_argument_errors_name_the_tools_own_arguments(aws_stack: IntentStack) -> None:
    token = await aws_stack.token("eve")
    async with mcp_client(aws_stack.mcp_url, token) as client:
        result = await client.call_tool("policy-simulate", {"policy": 5})
        text = text_of(result)
        assert result.is_error
        assert text.startswith("invalid arguments for tool policy-simulate: policy ")
        result = await client.call_tool(
            "lifecycle-resources-create", {"resources": [{"resource_id": "x"}]}
        )
        text = text_of(result)
        assert "resources[0].resource_type is required" in text
        assert not any(leak in text for leak in LEAKS), text


async def test_the_providers_hint_reaches_the_client(aws_stack: IntentStack) -> None:
    token = await aws_stack.token("alice")
    async with mcp_client(aws_stack.mcp_url, token) as client:
        await start_project(client, "hints")
        planned = await call(
            client,
            "lifecycle-resources-create",
            {
                "resources": [
                    {
                        "resource_id": "b",
                        "resource_type": "aws_s3_bucket",
                        "config": {"buckett": "typo-bucket"},
                    }
                ]
            },
        )
    assert planned["status"] == "invalid", planned
    assert 'Did you mean "bucket"?' in planned["message"]
    http = await aws_stack.http("alice")
    detail = (await http.get(f"/api/v1/changes/{planned['change_id']}")).json()
    assert 'Did you mean "bucket"?' in str(detail)
