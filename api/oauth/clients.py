"""OAuth clients as authlib sees them, and the rules their redirect URIs follow.

Redirect URIs match exactly, except that a loopback ``http`` redirect (RFC 8252 §7.3)
matches on any port: native clients (Claude Code, Codex, Gemini CLI) listen on a port
the operating system picks at sign-in time.
"""

from __future__ import annotations

import hmac
import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

from authlib.oauth2.rfc6749 import ClientMixin, InvalidScopeError
from authlib.oauth2.rfc6749.util import list_to_scope, scope_to_list

from access.scopes import ALL_SCOPES, normalize_scopes
from store.identities import hash_token
from store.models import OAuthClient

__all__ = [
    "GRANT_TYPES",
    "RESPONSE_TYPES",
    "TOKEN_AUTH_METHODS",
    "IntentClient",
    "is_loopback_host",
    "redirect_uri_problem",
]

GRANT_TYPES = ("authorization_code", "refresh_token")
RESPONSE_TYPES = ("code",)
TOKEN_AUTH_METHODS = ("none", "client_secret_basic", "client_secret_post")
# Schemes a browser must never be sent to with a code in hand.
_FORBIDDEN_SCHEMES = {"javascript", "data", "vbscript", "file", "blob", "about", "ftp", "ws", "wss"}


def is_loopback_host(host: str | None) -> bool:
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def redirect_uri_problem(uri: str) -> str | None:
    """Why ``uri`` cannot be a redirect URI here, or None when it can."""
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018  (raises on a malformed port)
    except ValueError:
        return f"{uri!r} is not a URI"
    scheme = parts.scheme.lower()
    if not scheme:
        return f"{uri!r} is not an absolute URI"
    if parts.fragment:
        return f"{uri} has a fragment; redirect URIs must not (RFC 6749 §3.1.2)"
    if scheme in _FORBIDDEN_SCHEMES:
        return f"{uri} uses the {scheme}: scheme, which cannot receive a code safely"
    if scheme == "https":
        return None if parts.hostname else f"{uri} names no host"
    if scheme == "http":
        if is_loopback_host(parts.hostname):
            return None
        return (
            f"{uri} is plain http on a non-loopback host; use https, or a loopback address "
            "(http://127.0.0.1:PORT/...) for a native client (RFC 8252)"
        )
    return None  # a private-use scheme of a native app (RFC 8252 §7.1), e.g. cursor://


def client_metadata_problem(
    redirect_uris: list[str], grant_types: list[str], response_types: list[str]
) -> str | None:
    """What makes a client's metadata (registered or from a document) unusable here."""
    if not redirect_uris:
        return "redirect_uris is required"
    for uri in redirect_uris:
        problem = redirect_uri_problem(uri)
        if problem:
            return problem
    unknown = (set(grant_types) - set(GRANT_TYPES)) | (set(response_types) - set(RESPONSE_TYPES))
    if unknown:
        return (
            f"{', '.join(sorted(unknown))} not supported; grant types: "
            f"{', '.join(GRANT_TYPES)}; response types: {', '.join(RESPONSE_TYPES)}"
        )
    return None


def _loopback_match(registered: str, requested: str) -> bool:
    a, b = urlsplit(registered), urlsplit(requested)
    return (
        a.scheme == b.scheme == "http"
        and is_loopback_host(a.hostname)
        and a.hostname == b.hostname
        and a.path == b.path
        and a.query == b.query
    )


@dataclass
class IntentClient(ClientMixin):
    """A registered client or a fetched client metadata document."""

    row: OAuthClient

    @property
    def name(self) -> str:
        return self.row.client_name or urlsplit(self.row.redirect_uris[0]).netloc or "an app"

    def get_client_id(self) -> str:
        return self.row.client_id

    def get_default_redirect_uri(self) -> str | None:
        uris = self.row.redirect_uris
        return uris[0] if len(uris) == 1 else None

    def get_allowed_scope(self, scope: str | None) -> str:
        """The requested scopes this client may have; unknown ones are ignored (RFC 6749
        §3.3), nothing asked means everything this client registered for."""
        registered = scope_to_list(self.row.scope) or list(ALL_SCOPES)
        requested = scope_to_list(scope) or registered
        allowed = [s for s in requested if s in ALL_SCOPES and s in registered]
        if not allowed:
            raise InvalidScopeError(
                f"none of the requested scopes ({scope}) can be granted here; ask for "
                f"{' and/or '.join(ALL_SCOPES)}"
            )
        return str(list_to_scope(normalize_scopes(allowed)))

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return any(
            redirect_uri == registered or _loopback_match(registered, redirect_uri)
            for registered in self.row.redirect_uris
        )

    def check_client_secret(self, client_secret: str) -> bool:
        stored = self.row.secret_hash
        return bool(stored) and hmac.compare_digest(hash_token(client_secret), stored or "")

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == self.row.token_endpoint_auth_method

    def check_response_type(self, response_type: str) -> bool:
        return response_type in self.row.response_types

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.row.grant_types
