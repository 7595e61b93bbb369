"""A real MCP client over streamable HTTP with a bearer token."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.types import CallToolResult, TextContent

__all__ = ["mcp_client", "text_of"]


@asynccontextmanager
async def mcp_client(url: str, token: str | None, **kwargs: Any) -> AsyncIterator[Client]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        create_mcp_http_client(headers=headers) as http,
        Client(streamable_http_client(url, http_client=http), **kwargs) as client,
    ):
        yield client


def text_of(result: CallToolResult) -> str:
    """The text blocks of a tool result, joined (errors arrive as text)."""
    return "\n".join(block.text for block in result.content if isinstance(block, TextContent))
