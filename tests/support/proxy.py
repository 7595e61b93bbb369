"""A reverse proxy that adds a bearer token: for tools that cannot send one themselves
(the MCP conformance suite). Streams both ways, so SSE responses pass through live."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import uvicorn
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route

from tests.support.stack import free_port

__all__ = ["token_proxy"]

_HOP = {"host", "content-length", "transfer-encoding", "connection", "keep-alive"}


@asynccontextmanager
async def token_proxy(upstream: str, token: str) -> AsyncIterator[str]:
    """Serve ``upstream`` (a base URL) on a local port with ``token``; yields the base URL."""
    from starlette.applications import Starlette

    client = httpx.AsyncClient(base_url=upstream, timeout=httpx.Timeout(120, connect=10))

    async def forward(request: Request) -> StreamingResponse:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP}
        headers["authorization"] = f"Bearer {token}"
        outgoing = client.build_request(
            request.method,
            request.url.path,
            params=request.query_params,
            headers=headers,
            content=await request.body(),
        )
        response = await client.send(outgoing, stream=True)

        async def body() -> AsyncIterator[bytes]:
            try:
                async for chunk in response.aiter_raw():
                    yield chunk
            finally:
                await response.aclose()

        kept = {k: v for k, v in response.headers.items() if k.lower() not in _HOP}
        return StreamingResponse(body(), status_code=response.status_code, headers=kept)

    methods = ["GET", "POST", "DELETE", "PUT", "PATCH", "OPTIONS"]
    app = Starlette(routes=[Route("/{path:path}", forward, methods=methods)])
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if serving.done():
                serving.result()
            await asyncio.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await serving
        await client.aclose()
