"""What an OAuth test needs besides the intent stack: a native client's loopback
callback, an HTTPS server for client metadata documents (with its own test CA), token
storage for the mcp client, and a browser-free authorization flow for the rejection
tests (a session cookie plays the signed-in user)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import html
import re
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import uvicorn
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthToken
from playwright.async_api import Browser, expect
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route

from tests.support.stack import free_port
from tests.support.tls import make_test_ca

__all__ = [
    "CallbackServer",
    "MemoryStorage",
    "MetadataServer",
    "callback_server",
    "metadata_server",
    "pkce_pair",
    "serve",
    "signed_in_code",
    "through_browser",
]


@dataclass
class MemoryStorage:
    tokens: OAuthToken | None = None
    client_info: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info


@asynccontextmanager
async def serve(app: Starlette, port: int, **ssl: Any) -> AsyncIterator[None]:
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", **ssl)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.02)
        yield
    finally:
        server.should_exit = True
        await task


@dataclass
class CallbackServer:
    """The loopback redirect URI a native MCP client listens on (RFC 8252)."""

    port: int
    results: asyncio.Queue[AuthorizationCodeResult | str] = field(default_factory=asyncio.Queue)

    @property
    def redirect_uri(self) -> str:
        return f"http://127.0.0.1:{self.port}/callback"

    async def result(self) -> AuthorizationCodeResult:
        got = await asyncio.wait_for(self.results.get(), 60)
        if isinstance(got, str):
            raise AssertionError(f"the authorization server answered with an error: {got}")
        return got


@asynccontextmanager
async def callback_server() -> AsyncIterator[CallbackServer]:
    callback = CallbackServer(free_port())

    async def receive(request: Request) -> HTMLResponse:
        query = request.query_params
        if "code" in query:
            await callback.results.put(
                AuthorizationCodeResult(
                    code=query["code"], state=query.get("state"), iss=query.get("iss")
                )
            )
            return HTMLResponse("<h1>Authorization successful</h1>")
        await callback.results.put(f"{query.get('error')}: {query.get('error_description')}")
        return HTMLResponse("<h1>Authorization failed</h1>", status_code=400)

    async with serve(Starlette(routes=[Route("/callback", receive)]), callback.port):
        yield callback


@dataclass
class MetadataServer:
    """An HTTPS server hosting client metadata documents (``/clients/NAME.json``)."""

    port: int
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)
    fetches: int = 0

    def url(self, name: str, host: str = "localhost") -> str:
        return f"https://{host}:{self.port}/clients/{name}.json"


@asynccontextmanager
async def metadata_server(directory: Path) -> AsyncIterator[tuple[MetadataServer, Path]]:
    """Yields the server and the CA bundle that trusts it."""
    ca = make_test_ca(directory)
    hosted = MetadataServer(free_port())

    async def document(request: Request) -> JSONResponse:
        hosted.fetches += 1
        name = request.path_params["name"]
        if name not in hosted.documents:
            return JSONResponse({"error": "not found"}, status_code=404)
        return JSONResponse(hosted.documents[name], headers={"Cache-Control": "max-age=600"})

    app = Starlette(routes=[Route("/clients/{name}.json", document)])
    async with serve(app, hosted.port, ssl_certfile=str(ca.cert_pem), ssl_keyfile=str(ca.key_pem)):
        yield hosted, ca.ca_pem


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge.decode().rstrip("=")


async def signed_in_code(
    browser: httpx.AsyncClient,
    params: dict[str, str],
    *,
    grant: tuple[str, ...] = ("mcp:read", "mcp:write"),
) -> httpx.Response:
    """Ask /oauth/authorize as a signed-in browser and press Allow; returns the redirect."""
    page = await browser.get("/oauth/authorize", params=params)
    assert page.status_code == 200, page.text
    fields = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page.text)
    form: dict[str, list[str]] = {}
    for name, value in fields:
        form.setdefault(name, []).append(html.unescape(value))
    form["grant"] = list(grant)
    form["decision"] = ["allow"]
    return await browser.post("/oauth/authorize", data=form)


def code_of(response: httpx.Response) -> dict[str, str]:
    """The query of the redirect back to the client."""
    assert response.status_code == 302, response.text
    query = parse_qs(urlsplit(response.headers["location"]).query)
    return {key: values[0] for key, values in query.items()}


def through_browser(
    browser: Browser, name: str, password: str, client_name: str
) -> Callable[[str], Awaitable[None]]:
    """The redirect handler: what the user does in the browser the client opened."""

    async def handle(authorization_url: str) -> None:
        page = await browser.new_page()
        await page.goto(authorization_url)
        await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        await page.fill("input[name=name]", name)
        await page.fill("input[name=password]", password)
        await page.click("button:has-text('Sign in')")
        await expect(page.get_by_role("heading", name=f"Authorize {client_name}")).to_be_visible()
        await expect(page.get_by_role("checkbox", name=re.compile("mcp:write"))).to_be_checked()
        await page.click("button:has-text('Allow')")
        await expect(page.get_by_role("heading", name="Authorization successful")).to_be_visible()
        await page.close()

    return handle
