"""The authorization server (authlib), built per request for the issuer the caller sees.

``IntentAuthorizationServer`` adapts authlib's framework-neutral server to Starlette:
requests are read (body included) on the event loop, authlib runs in a worker thread
(its hooks reach the database through ``blocking``), and the result comes back as a
Starlette response.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from typing import Any, TypeVar

import anyio.to_thread
from authlib.oauth2.rfc6749 import (
    AuthorizationServer,
    InsecureTransportError,
    InvalidClientError,
    JsonPayload,
    JsonRequest,
    OAuth2Payload,
    OAuth2Request,
)
from starlette.requests import Request
from starlette.responses import Response

from access.scopes import ALL_SCOPES
from api.oauth.clients import GRANT_TYPES, TOKEN_AUTH_METHODS, IntentClient
from api.oauth.context import OAuthContext, blocking
from api.oauth.grants import CodeGrant, RefreshGrant, Registration, Revocation, S256Only
from api.oauth.metadata_documents import (
    ClientMetadataError,
    fetch_client_metadata,
    is_metadata_url,
)
from settings import Settings
from store import oauth as store_oauth
from store.types import utcnow

__all__ = [
    "FormRequest",
    "IntentAuthorizationServer",
    "JsonBodyRequest",
    "authorization_server_metadata",
    "read_form_request",
    "read_json_request",
    "run",
]

T = TypeVar("T")

AUTHORIZE_PATH = "/oauth/authorize"
TOKEN_PATH = "/oauth/token"
REGISTER_PATH = "/oauth/register"
REVOKE_PATH = "/oauth/revoke"


def authorization_server_metadata(issuer: str, settings: Settings) -> dict[str, Any]:
    """RFC 8414 metadata (also served for OpenID discovery, without OpenID claims)."""
    metadata: dict[str, Any] = {
        "issuer": issuer,
        "authorization_endpoint": issuer + AUTHORIZE_PATH,
        "token_endpoint": issuer + TOKEN_PATH,
        "registration_endpoint": issuer + REGISTER_PATH,
        "revocation_endpoint": issuer + REVOKE_PATH,
        "scopes_supported": list(ALL_SCOPES),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": list(GRANT_TYPES),
        "token_endpoint_auth_methods_supported": list(TOKEN_AUTH_METHODS),
        "revocation_endpoint_auth_methods_supported": list(TOKEN_AUTH_METHODS),
        "code_challenge_methods_supported": ["S256"],
        "client_id_metadata_document_supported": settings.oauth_client_metadata_documents,
        "authorization_response_iss_parameter_supported": True,
        "service_documentation": issuer + "/docs",
    }
    if not settings.oauth_dynamic_registration:
        del metadata["registration_endpoint"]
    return metadata


class _Payload(OAuth2Payload):
    def __init__(self, items: list[tuple[str, str]]) -> None:
        self._datalist: defaultdict[str, list[str]] = defaultdict(list)
        for key, value in items:
            self._datalist[key].append(value)
        self._data = {key: values[0] for key, values in self._datalist.items()}

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> defaultdict[str, list[str]]:
        return self._datalist


class FormRequest(OAuth2Request):
    """An OAuth request whose query and form were read before authlib sees it."""

    def __init__(
        self,
        method: str,
        uri: str,
        headers: dict[str, str],
        query: list[tuple[str, str]],
        form: list[tuple[str, str]],
    ) -> None:
        super().__init__(method, uri, headers=headers)
        self._args = dict(query)
        self._form = dict(form)
        self.payload = _Payload(query + form)
        self.audience: list[str] = []

    @property
    def args(self) -> dict[str, str]:
        return self._args

    @property
    def form(self) -> dict[str, str]:
        return self._form


class _JsonPayload(JsonPayload):
    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    @property
    def data(self) -> dict[str, Any]:
        return self._data


class JsonBodyRequest(JsonRequest):
    def __init__(self, method: str, uri: str, headers: dict[str, str], data: dict[str, Any]):
        super().__init__(method, uri, headers)
        self.payload = _JsonPayload(data)


_INSECURE = (
    "OAuth needs https (or a loopback address such as 127.0.0.1): serve intent behind TLS "
    "and set INTENT_PUBLIC_URL=https://..., or use an API key instead"
)


async def read_form_request(request: Request, issuer: str) -> FormRequest:
    form = list((await request.form()).multi_items()) if request.method == "POST" else []
    uri = issuer + request.url.path + (f"?{request.url.query}" if request.url.query else "")
    try:
        return FormRequest(
            request.method,
            uri,
            dict(request.headers),
            list(request.query_params.multi_items()),
            [(k, v) for k, v in form if isinstance(v, str)],
        )
    except InsecureTransportError as exc:
        raise InsecureTransportError(description=_INSECURE) from exc


async def read_json_request(request: Request, issuer: str) -> JsonBodyRequest:
    try:
        data = json.loads(await request.body() or b"{}")
    except ValueError:
        data = None
    return JsonBodyRequest(
        request.method,
        issuer + request.url.path,
        dict(request.headers),
        data if isinstance(data, dict) else {},
    )


class IntentAuthorizationServer(AuthorizationServer):
    def __init__(self, ctx: OAuthContext) -> None:
        super().__init__(scopes_supported=list(ALL_SCOPES))
        self.ctx = ctx
        self.register_grant(CodeGrant, [S256Only(required=True)])
        self.register_grant(RefreshGrant)
        self.register_endpoint(Revocation)
        self.register_endpoint(Registration)

    def metadata(self) -> dict[str, Any]:
        return authorization_server_metadata(self.ctx.issuer, self.ctx.app.settings)

    def query_client(self, client_id: str) -> IntentClient | None:
        if client_id not in self.ctx.clients:
            self.ctx.clients[client_id] = blocking(self._load_client, client_id)
        found: IntentClient | None = self.ctx.clients[client_id]
        return found

    async def _load_client(self, client_id: str) -> IntentClient | None:
        db = self.ctx.db
        async with db.session() as session:
            row = await store_oauth.get_client(session, client_id)
        if row is not None and (row.expires_at is None or row.expires_at > utcnow()):
            return IntentClient(row)
        if not is_metadata_url(client_id):
            return None
        if not self.ctx.app.settings.oauth_client_metadata_documents:
            raise InvalidClientError(
                description="this server does not accept client metadata documents (https "
                "client ids); register the client dynamically instead"
            )
        try:
            fetched = await fetch_client_metadata(
                client_id,
                allow_private=self.ctx.app.settings.oauth_allow_private_client_metadata,
            )
        except ClientMetadataError as exc:
            raise InvalidClientError(description=_ascii(str(exc))) from exc
        async with db.transaction() as session:
            await store_oauth.save_client(session, fetched)
        return IntentClient(fetched)

    def save_token(self, token: dict[str, Any], request: Any) -> None:
        raise NotImplementedError("grants store their tokens as they issue them")

    def validate_requested_scope(self, scope: str | None) -> None:
        """Unknown scopes are ignored, not refused (RFC 6749 §3.3); the client's
        ``get_allowed_scope`` keeps what may be granted."""

    def create_oauth2_request(self, request: Any) -> OAuth2Request:
        assert isinstance(request, OAuth2Request)
        return request

    def create_json_request(self, request: Any) -> JsonRequest:
        assert isinstance(request, JsonRequest)
        return request

    def handle_response(self, status: int, body: Any, headers: Any) -> Response:
        content = body if isinstance(body, str) else json.dumps(body)
        return Response(content, status_code=status, headers=dict(headers))

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """authlib's signals are not used: events are recorded where they happen."""


def _ascii(text: str) -> str:
    """OAuth error descriptions allow printable ASCII without double quotes or backslashes."""
    cleaned = text.replace('"', "'").replace("\\", "/")
    return "".join(c if 0x20 <= ord(c) < 0x7F else "?" for c in cleaned)


async def run(fn: Callable[[], T]) -> T:
    """Run an authlib call in a worker thread; its hooks call back into this loop."""
    return await anyio.to_thread.run_sync(fn)
