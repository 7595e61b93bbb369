"""The MCP client signs in the way Claude Code does (walkthrough step 2): the mcp SDK's
OAuth provider discovers the server, registers (dynamically, or with a client metadata
document served over HTTPS), sends the user's real browser (headless Chromium) through
the sign-in and consent pages, exchanges the code and calls tools with the token."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp.client import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.auth import OAuthClientMetadata
from playwright.async_api import Browser
from pydantic import AnyUrl
from temporalio.testing import WorkflowEnvironment

from store import audit
from tests.api.mcp_client import text_of
from tests.identity.oauth_support import (
    MemoryStorage,
    callback_server,
    metadata_server,
    through_browser,
)
from tests.support.stack import IntentStack, run_stack

pytestmark = pytest.mark.slow


def metadata(redirect_uri: str, name: str) -> OAuthClientMetadata:
    return OAuthClientMetadata(
        redirect_uris=[AnyUrl(redirect_uri)],
        client_name=name,
        grant_types=["authorization_code", "refresh_token"],
        response_types=["code"],
        token_endpoint_auth_method="none",
    )


async def connect_and_use(stack: IntentStack, provider: OAuthClientProvider, project: str) -> None:
    async with (
        create_mcp_http_client(auth=provider) as http,
        Client(streamable_http_client(stack.mcp_url, http_client=http)) as client,
    ):
        tools = {t.name for t in (await client.list_tools()).tools}
        assert {"project-create", "project-list", "lifecycle-resources-create"} <= tools
        created = await client.call_tool("project-create", {"name": project})
        assert not created.is_error, text_of(created)
        listed = await client.call_tool("project-list", {})
        assert project in text_of(listed)


async def test_dynamic_registration_login_consent_and_tools(
    browser: Browser, stack: IntentStack
) -> None:
    password = await stack.password("ana")
    storage = MemoryStorage()
    async with callback_server() as callback:
        provider = OAuthClientProvider(
            server_url=stack.mcp_url,
            client_metadata=metadata(callback.redirect_uri, "Test Agent"),
            storage=storage,
            redirect_handler=through_browser(browser, "ana", password, "Test Agent"),
            callback_handler=callback.result,
        )
        await connect_and_use(stack, provider, "signed-in-by-oauth")

    assert storage.client_info is not None and storage.client_info.client_id.startswith("mcp_")
    assert storage.tokens is not None
    assert storage.tokens.access_token.startswith("intent_at_")
    assert storage.tokens.refresh_token and storage.tokens.scope == "mcp:read mcp:write"
    http = await stack.http("root", roles=["space-admin"])
    history = (await http.get("/api/v1/projects/signed-in-by-oauth/history")).json()
    created = [e for e in history["entries"] if e["operation"] == "create"]
    assert created and created[0]["actor"] == "ana" and created[0]["via"] == "mcp"
    async with stack.db.session() as session:
        events = {(e.event, e.outcome) for e in await audit.list_events(session, subject="ana")}
    assert {("login", "succeeded"), ("consent", "succeeded"), ("token_issued", "succeeded")} <= (
        events
    )


async def test_client_metadata_document_over_https(
    browser: Browser,
    temporal_env: WorkflowEnvironment,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with (
        metadata_server(tmp_path) as (hosted, ca_bundle),
        callback_server() as callback,
        run_stack(temporal_env, tmp_path, oauth_allow_private_client_metadata=True) as stack,
    ):
        # The server trusts the test CA the way it trusts any CA: the system's bundle.
        monkeypatch.setenv("SSL_CERT_FILE", str(ca_bundle))
        url = hosted.url("test-agent")
        hosted.documents["test-agent"] = {
            "client_id": url,
            "client_name": "Documented Agent",
            "redirect_uris": [callback.redirect_uri],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
        }
        password = await stack.password("bo")
        storage = MemoryStorage()
        provider = OAuthClientProvider(
            server_url=stack.mcp_url,
            client_metadata=metadata(callback.redirect_uri, "Documented Agent"),
            storage=storage,
            redirect_handler=through_browser(browser, "bo", password, "Documented Agent"),
            callback_handler=callback.result,
            client_metadata_url=url,
        )
        await connect_and_use(stack, provider, "signed-in-with-a-document")
        assert storage.client_info is not None and storage.client_info.client_id == url
        assert hosted.fetches >= 1
