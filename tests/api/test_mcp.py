"""The MCP endpoint through the `mcp` Python client over real HTTP."""

from __future__ import annotations

import httpx
import pytest
from mcp.shared.exceptions import MCPError

from tests.api.mcp_client import mcp_client, text_of
from tests.support.stack import IntentStack

pytestmark = pytest.mark.parametrize("mode", ["legacy", "auto"])


async def test_project_tools_end_to_end(stack: IntentStack, mode: str) -> None:
    alice = await stack.token("alice")
    bob = await stack.token("bob")
    async with mcp_client(stack.mcp_url, alice, mode=mode) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert {"project-create", "project-list", "project-use", "project-release"} <= set(tools)
        listing, use = tools["project-list"].annotations, tools["project-use"].annotations
        assert listing is not None and listing.read_only_hint is True
        assert use is not None and use.read_only_hint is False
        assert tools["project-create"].output_schema is not None  # structured output

        created = await client.call_tool("project-create", {"name": f"mcp-{mode}"})
        assert not created.is_error, created.content
        assert created.structured_content["name"] == f"mcp-{mode}"

        used = await client.call_tool("project-use", {"project": f"mcp-{mode}"})
        assert not used.is_error, used.content
        assert used.structured_content["project"]["lock"]["holder"] == "alice"

        listed = await client.call_tool("project-list", {})
        row = next(p for p in listed.structured_content["projects"] if p["name"] == f"mcp-{mode}")
        assert row["lock"]["holder"] == "alice"

        # A second client, another user: the busy error names the holder and expiry.
        async with mcp_client(f"{stack.base_url}/intent/mcp", bob, mode=mode) as other:
            busy = await other.call_tool("project-use", {"project": f"mcp-{mode}"})
            assert busy.is_error
            text = text_of(busy)
            assert "locked by alice until" in text and "UTC" in text

        released = await client.call_tool("project-release", {"project": f"mcp-{mode}"})
        assert not released.is_error, released.content
        assert released.structured_content["project"]["lock"]["locked"] is False

    async with mcp_client(stack.mcp_url, bob, mode=mode) as other:
        taken = await other.call_tool("project-use", {"project": f"mcp-{mode}"})
        assert not taken.is_error and taken.structured_content["project"]["lock"]["holder"] == "bob"


async def test_bad_input_is_a_clear_tool_error(stack: IntentStack, mode: str) -> None:
    async with mcp_client(stack.mcp_url, await stack.token("alice"), mode=mode) as client:
        missing = await client.call_tool("project-use", {"project": "no-such-project"})
        assert missing.is_error and "project-create" in text_of(missing)
        bad = await client.call_tool("project-create", {"name": "no spaces allowed"})
        assert bad.is_error
        await client.call_tool("project-create", {"name": f"dup-{mode}"})
        dup = await client.call_tool("project-create", {"name": f"dup-{mode}"})
        assert dup.is_error and "already exists" in text_of(dup)


async def test_no_token_is_401_with_a_challenge(stack: IntentStack, mode: str) -> None:
    async with httpx.AsyncClient() as http:
        for path in ("/mcp", "/intent/mcp"):
            response = await http.post(
                f"{stack.base_url}{path}",
                json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                headers={"Accept": "application/json, text/event-stream"},
            )
            assert response.status_code == 401
            assert response.headers["www-authenticate"].startswith("Bearer")
            bad = await http.post(
                f"{stack.base_url}{path}",
                json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                headers={"Authorization": "Bearer intent_wrong"},
            )
            assert bad.status_code == 401
            assert 'error="invalid_token"' in bad.headers["www-authenticate"]
            # An unknown token is told so, not asked for a token.
            assert "not known here" in bad.json()["message"]
            assert "required" not in bad.json()["message"]
            assert "required" in response.json()["message"]
    with pytest.raises(BaseExceptionGroup) as caught:
        async with mcp_client(stack.mcp_url, None, mode=mode) as client:
            await client.list_tools()
    leaves = _leaves(caught.value)
    assert any(isinstance(e, MCPError) for e in leaves), leaves


def _leaves(group: BaseException) -> list[BaseException]:
    if isinstance(group, BaseExceptionGroup):
        return [leaf for inner in group.exceptions for leaf in _leaves(inner)]
    return [group]


async def test_prompts_and_resources(stack: IntentStack, mode: str) -> None:
    async with mcp_client(stack.mcp_url, await stack.token("alice"), mode=mode) as client:
        await client.call_tool("project-create", {"name": f"res-{mode}"})
        prompts = {p.name: p for p in (await client.list_prompts()).prompts}
        assert set(prompts) == {"start-project", "create-bucket", "write-policy", "review-project"}
        bucket = await client.get_prompt(
            "create-bucket", {"bucket": "dev-attachments-123", "environment": "dev"}
        )
        text = bucket.messages[0].content
        assert "dev-attachments-123" in str(text) and "Environment=dev" in str(text)

        with pytest.raises(MCPError) as unknown:
            await client.get_prompt("no-such-prompt", {})
        assert unknown.value.error.code == -32602
        assert "start-project" in unknown.value.error.message  # names the ones there are
        with pytest.raises(MCPError) as missing:
            await client.get_prompt("start-project", {})
        assert missing.value.error.code == -32602

        listed = {str(r.uri) for r in (await client.list_resources()).resources}
        assert {"intent://policy/input-schema", "intent://policy/input-example"} <= listed
        templates = {
            t.uri_template for t in (await client.list_resource_templates()).resource_templates
        }
        assert "intent://projects/{project}/state" in templates
        schema = await client.read_resource("intent://policy/input-schema")
        assert "resource_type" in schema.contents[0].text  # type: ignore[union-attr]
        state = await client.read_resource(f"intent://projects/res-{mode}/state")
        assert '"resources": []' in state.contents[0].text  # type: ignore[union-attr]

        # "Resource not found": -32002 until 2025-11-25, -32602 from 2026-07-28 on.
        expected = -32602 if client.protocol_version >= "2026-07-28" else -32002
        for uri in ("intent://nothing/here", "intent://projects/no-such-project/state"):
            with pytest.raises(MCPError) as absent:
                await client.read_resource(uri)
            assert absent.value.error.code == expected, (uri, absent.value.error)
