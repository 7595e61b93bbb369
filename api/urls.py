"""Where this server is, as its callers see it: the public base URL, the Host names it
answers to, and the protected resources tokens are bound to (RFC 8707).

Without ``INTENT_PUBLIC_URL`` the base follows the request's Host header when that is
one of the allowed hosts, so a client that connects to ``localhost`` and one that
connects to ``127.0.0.1`` each see metadata (issuer, resource) naming what they used.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from urllib.parse import urlsplit, urlunsplit

from settings import Settings

__all__ = [
    "MCP_PATHS",
    "RESOURCE_PATHS",
    "REST_PATH",
    "allowed_hosts",
    "allowed_origins",
    "canonical_resource",
    "public_base",
    "resource_path",
]

# `/intent/mcp` matches the URL shape clients were configured with for the managed product.
MCP_PATHS = ("/mcp", "/intent/mcp")
REST_PATH = "/api/v1"
# Each is a protected resource of its own: a token is bound to the ones it was issued for.
RESOURCE_PATHS = (*MCP_PATHS, REST_PATH)


def allowed_hosts(settings: Settings) -> list[str]:
    """Host header patterns (``host:port``, ``*`` for any port) the server answers to."""
    hosts = ["127.0.0.1:*", "localhost:*", "[::1]:*", f"{settings.host}:*"]
    hosts += settings.allowed_hosts
    if settings.public_url:
        hosts.append(urlsplit(settings.public_url).netloc)
    return sorted(set(hosts))


def allowed_origins(settings: Settings) -> list[str]:
    hosts = allowed_hosts(settings)
    return sorted({f"{scheme}://{h}" for h in hosts for scheme in ("http", "https")})


def _host_allowed(settings: Settings, host: str) -> bool:
    with_port = host if ":" in host.rsplit("]", 1)[-1] else f"{host}:80"
    return any(
        fnmatch.fnmatchcase(with_port, pattern) or host == pattern
        for pattern in allowed_hosts(settings)
    )


def public_base(settings: Settings, headers: Mapping[str, str], scheme: str = "http") -> str:
    """The base URL (no trailing slash) the caller reached us at."""
    if settings.public_url:
        return settings.public_url.rstrip("/")
    host = headers.get("host", "")
    if host and _host_allowed(settings, host):
        return f"{scheme}://{host}".lower()
    return settings.base_url


def canonical_resource(url: str) -> str:
    """RFC 8707 resource form: lower-case scheme and host, no fragment or trailing slash."""
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, parts.query, ""))


def resource_path(path: str) -> str | None:
    """The protected resource a request path belongs to, if any."""
    for candidate in RESOURCE_PATHS:
        if path == candidate or path.startswith(candidate + "/"):
            return candidate
    return None
