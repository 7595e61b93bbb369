"""Client ID Metadata Documents: a client whose id is an HTTPS URL describes itself in
the JSON document at that URL (draft-ietf-oauth-client-id-metadata-document, used by
the MCP authorization spec).

Fetching a URL a stranger chose is a server-side request forgery risk, so the fetch
is guarded: HTTPS only, no redirects, a small body, a short timeout, and the address
the name resolves to is checked at connect time (no loopback, private, link-local or
otherwise non-public address unless ``INTENT_OAUTH_ALLOW_PRIVATE_CLIENT_METADATA``),
which also defeats DNS rebinding between a check and the connection.
"""

from __future__ import annotations

import ipaddress
import json
import re
import socket
import ssl
from collections.abc import Iterable
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpcore

from api.oauth.clients import client_metadata_problem
from store.models import OAuthClient
from store.types import utcnow

__all__ = ["ClientMetadataError", "fetch_client_metadata", "is_metadata_url"]

MAX_BYTES = 5 * 1024
TIMEOUT_SECONDS = 5.0
MIN_CACHE = timedelta(minutes=5)
MAX_CACHE = timedelta(hours=24)
DEFAULT_CACHE = timedelta(hours=1)


class ClientMetadataError(Exception):
    """The client's metadata document cannot be used; the message says why."""


def is_metadata_url(client_id: str) -> bool:
    return client_id.startswith("https://")


def _check_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise ClientMetadataError(f"client id {url} must be an https URL")
    if parts.path in ("", "/"):
        raise ClientMetadataError(f"client id {url} must have a path (it names a document)")
    if parts.fragment or parts.username or parts.password:
        raise ClientMetadataError(f"client id {url} must not carry a fragment or credentials")
    if any(segment in (".", "..") for segment in parts.path.split("/")):
        raise ClientMetadataError(f"client id {url} must not contain . or .. path segments")


def _address_problem(address: str) -> str | None:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_global and not ip.is_multicast:
        return None
    return f"{address} is not a public address"


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolves the host itself, refuses non-public addresses, connects to the vetted one."""

    def __init__(self, allow_private: bool) -> None:
        self._inner = httpcore.AnyIOBackend()
        self._allow_private = allow_private

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise ClientMetadataError(f"cannot resolve {host}: {exc}") from exc
        addresses = [str(info[4][0]) for info in infos]
        if not addresses:
            raise ClientMetadataError(f"{host} resolves to no address")
        if not self._allow_private:
            for address in addresses:
                problem = _address_problem(address)
                if problem:
                    raise ClientMetadataError(
                        f"refusing to fetch a client metadata document from {host}: {problem} "
                        "(a guard against server-side request forgery; for development, "
                        "INTENT_OAUTH_ALLOW_PRIVATE_CLIENT_METADATA=true allows it)"
                    )
        return await self._inner.connect_tcp(
            addresses[0],
            port,
            timeout=timeout,
            local_address=local_address,
            socket_options=socket_options,
        )

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Any = None,
    ) -> httpcore.AsyncNetworkStream:
        raise ClientMetadataError("client metadata documents are fetched over TCP only")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def _cache_for(headers: list[tuple[bytes, bytes]]) -> timedelta:
    for key, value in headers:
        if key.lower() == b"cache-control":
            text = value.decode("latin-1").lower()
            if "no-store" in text or "no-cache" in text:
                return MIN_CACHE
            found = re.search(r"max-age=(\d+)", text)
            if found:
                return min(max(timedelta(seconds=int(found.group(1))), MIN_CACHE), MAX_CACHE)
    return DEFAULT_CACHE


async def _download(url: str, allow_private: bool) -> tuple[bytes, timedelta]:
    # The system's trust store (SSL_CERT_FILE is honoured, as in every TLS client here).
    context = ssl.create_default_context()
    async with httpcore.AsyncConnectionPool(
        ssl_context=context, network_backend=_GuardedBackend(allow_private), retries=0
    ) as pool:
        try:
            with anyio.fail_after(TIMEOUT_SECONDS):
                async with pool.stream(
                    "GET", url, headers=[(b"accept", b"application/json")]
                ) as response:
                    if response.status != 200:
                        raise ClientMetadataError(
                            f"the client metadata document at {url} answered HTTP "
                            f"{response.status} (redirects are not followed); expected 200"
                        )
                    body = b""
                    async for chunk in response.aiter_stream():
                        body += chunk
                        if len(body) > MAX_BYTES:
                            raise ClientMetadataError(
                                f"the client metadata document at {url} is larger than "
                                f"{MAX_BYTES} bytes"
                            )
                    return body, _cache_for(response.headers)
        except TimeoutError as exc:
            raise ClientMetadataError(
                f"fetching {url} took longer than {TIMEOUT_SECONDS}s"
            ) from exc
        except httpcore.ConnectError as exc:
            raise ClientMetadataError(f"cannot connect to fetch {url}: {exc}") from exc
        except httpcore.NetworkError as exc:
            raise ClientMetadataError(f"fetching {url} failed: {exc}") from exc


def _strings(value: Any, field: str, url: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ClientMetadataError(
            f"{field} in the client metadata document at {url} must be a list of strings"
        )
    return list(value)


def parse_document(url: str, body: bytes) -> OAuthClient:
    """Validate a fetched document and turn it into a client record."""
    try:
        doc = json.loads(body)
    except ValueError as exc:
        raise ClientMetadataError(f"the client metadata document at {url} is not JSON") from exc
    if not isinstance(doc, dict):
        raise ClientMetadataError(f"the client metadata document at {url} is not a JSON object")
    if doc.get("client_id") != url:
        raise ClientMetadataError(
            f"the client metadata document at {url} names client_id "
            f"{doc.get('client_id')!r}; it must be exactly its own URL"
        )
    if "client_secret" in doc or "client_secret_expires_at" in doc:
        raise ClientMetadataError(f"the client metadata document at {url} must not hold a secret")
    method = doc.get("token_endpoint_auth_method", "none")
    if method != "none":
        raise ClientMetadataError(
            f"the client metadata document at {url} asks for token_endpoint_auth_method "
            f"{method!r}; only public clients ('none') can be identified by a document here"
        )
    redirects = _strings(doc.get("redirect_uris", []), "redirect_uris", url)
    grants = _strings(doc.get("grant_types", ["authorization_code"]), "grant_types", url)
    responses = _strings(doc.get("response_types", ["code"]), "response_types", url)
    problem = client_metadata_problem(redirects, grants, responses)
    if problem:
        raise ClientMetadataError(f"the client metadata document at {url}: {problem}")
    name = doc.get("client_name")
    scope = doc.get("scope", "")
    return OAuthClient(
        client_id=url,
        kind="metadata_document",
        client_name=name[:200] if isinstance(name, str) else "",
        redirect_uris=redirects,
        grant_types=grants,
        response_types=responses,
        token_endpoint_auth_method="none",
        scope=scope if isinstance(scope, str) else "",
        metadata_json=doc,
    )


async def fetch_client_metadata(url: str, *, allow_private: bool) -> OAuthClient:
    """Fetch, validate and return the client described at ``url`` (to be cached)."""
    _check_url(url)
    body, lifetime = await _download(url, allow_private)
    client = parse_document(url, body)
    client.expires_at = utcnow() + lifetime
    return client
