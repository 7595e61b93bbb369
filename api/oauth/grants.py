"""The grants and endpoints of the authorization server, on authlib's machinery.

- Authorization code with PKCE, S256 only (OAuth 2.1); the code is single use, and a
  replayed code revokes what was issued for it.
- RFC 8707 resource indicators: the resources asked for become the token's audience,
  and a token request may only narrow them.
- Refresh tokens rotate on every use; presenting one that was already rotated revokes
  its whole family (RFC 9700 §4.14.2).
- RFC 7009 revocation and RFC 7591 dynamic client registration.

Error descriptions travel in OAuth error responses, which allow only printable ASCII
without double quotes or backslashes.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from authlib.oauth2.rfc6749 import (
    AccessDeniedError,
    AuthorizationCodeMixin,
    InvalidGrantError,
    InvalidRequestError,
    OAuth2Error,
    TokenMixin,
    grants,
)
from authlib.oauth2.rfc6749.util import list_to_scope, scope_to_list
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7591 import ClientRegistrationEndpoint, InvalidClientMetadataError
from authlib.oauth2.rfc7636 import CodeChallenge

from access.scopes import ALL_SCOPES
from api.oauth.clients import TOKEN_AUTH_METHODS, IntentClient, client_metadata_problem
from api.oauth.context import OAuthContext, SignedInUser, blocking
from api.urls import canonical_resource
from store import oauth as store_oauth
from store.identities import hash_token
from store.models import Identity, OAuthClient, OAuthCode, OAuthToken
from store.types import utcnow

if TYPE_CHECKING:
    from api.oauth.server import IntentAuthorizationServer

__all__ = [
    "CodeGrant",
    "InvalidTargetError",
    "RefreshGrant",
    "Registration",
    "Revocation",
    "S256Only",
]

_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]


class InvalidTargetError(OAuth2Error):
    """RFC 8707 §2: the resource asked for is not one this server protects."""

    error = "invalid_target"


def _ctx(server: Any) -> OAuthContext:
    owner: IntentAuthorizationServer = server
    return owner.ctx


def _resources_of(payload: Any) -> list[str]:
    return [canonical_resource(r) for r in payload.datalist.get("resource", []) if r]


# -- PKCE ---------------------------------------------------------------------------------


class S256Only(CodeChallenge):
    """PKCE is mandatory and only S256 is accepted (plain reveals the verifier)."""

    DEFAULT_CODE_CHALLENGE_METHOD = "S256"
    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError(
                "PKCE is required: send code_challenge with code_challenge_method=S256"
            )
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError(
                "code_challenge_method must be S256; plain PKCE is not accepted"
            )
        super().validate_code_challenge(grant, redirect_uri)

    def validate_code_verifier(self, grant: Any, result: Any) -> None:
        if not grant.request.form.get("code_verifier"):
            raise InvalidRequestError("code_verifier is required (PKCE)")
        try:
            super().validate_code_verifier(grant, result)
        except InvalidGrantError as exc:
            raise InvalidGrantError(
                "code_verifier does not match the code_challenge of the authorization request"
            ) from exc


# -- authorization code ---------------------------------------------------------------------


@dataclass
class IssuedCode(AuthorizationCodeMixin):
    row: OAuthCode

    def get_redirect_uri(self) -> str:
        return self.row.redirect_uri

    def get_scope(self) -> str:
        return str(list_to_scope(self.row.scopes))

    @property
    def code_challenge(self) -> str:
        return self.row.code_challenge

    @property
    def code_challenge_method(self) -> str:
        return self.row.code_challenge_method


class CodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = _AUTH_METHODS

    def __init__(self, request: Any, server: Any) -> None:
        super().__init__(request, server)
        self.register_hook("after_validate_authorization_request_payload", _check_resources)

    def save_authorization_code(self, code: str, request: Any) -> None:
        ctx = _ctx(self.server)
        user: SignedInUser = request.user
        data = request.payload.data

        async def save() -> None:
            async with ctx.db.transaction() as session:
                await store_oauth.save_code(
                    session,
                    code=code,
                    client_id=request.client.get_client_id(),
                    identity_id=user.id,
                    redirect_uri=request.payload.redirect_uri
                    or request.client.get_default_redirect_uri(),
                    scopes=scope_to_list(request.scope) or [],
                    audience=request.audience,
                    code_challenge=data["code_challenge"],
                    code_challenge_method=data["code_challenge_method"],
                    ttl=ctx.code_ttl,
                )

        blocking(save)

    def query_authorization_code(self, code: str, client: IntentClient) -> IssuedCode | None:
        ctx = _ctx(self.server)

        async def claim() -> tuple[store_oauth.CodeClaim, int]:
            async with ctx.db.transaction() as session:
                found = await store_oauth.claim_code(session, code, client.get_client_id())
                revoked = 0
                if found.code is not None and not found.first_use:
                    revoked = await store_oauth.revoke_family(session, found.code.family_id)
                return found, revoked

        found, revoked = blocking(claim)
        if found.code is None:
            return None
        if not found.first_use:
            ctx.audit(
                "code_reuse",
                outcome="refused",
                subject_id=found.code.identity_id,
                client_id=client.get_client_id(),
                details={"revoked_tokens": revoked},
            )
            raise InvalidGrantError(
                "this authorization code was already used; the tokens issued for it are "
                "revoked. Sign in again"
            )
        if found.code.expires_at <= utcnow():
            raise InvalidGrantError("this authorization code expired; sign in again")
        return IssuedCode(found.code)

    def delete_authorization_code(self, authorization_code: IssuedCode) -> None:
        """Nothing to do: the code was spent when it was claimed."""

    def authenticate_user(self, authorization_code: IssuedCode) -> Identity | None:
        return _live_identity(_ctx(self.server), authorization_code.row.identity_id)

    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        code: IssuedCode = self.request.authorization_code
        client: IntentClient = self.request.client
        user = self.authenticate_user(code)
        if user is None:
            raise InvalidGrantError("the user who signed in is disabled")
        audience = _narrowed(self.request.payload, code.row.audience)
        token = _issue(
            _ctx(self.server),
            user=user,
            client=client,
            scopes=code.row.scopes,
            audience=audience,
            family_id=code.row.family_id,
            event="token_issued",
        )
        return 200, token, self.TOKEN_RESPONSE_HEADER


def _check_resources(grant: Any, redirect_uri: str) -> None:
    """Hook: the ``resource`` parameters of an authorization request (RFC 8707)."""
    ctx = _ctx(grant.server)
    asked = _resources_of(grant.request.payload)
    known = ctx.resources()
    for resource in asked:
        if resource not in known:
            raise InvalidTargetError(
                f"{resource} is not a resource of this server; use one of {', '.join(known)}",
                redirect_uri=redirect_uri,
            )
    grant.request.audience = asked or ctx.default_audience()


def _narrowed(payload: Any, granted: list[str]) -> list[str]:
    """A token request may name a subset of the granted resources (RFC 8707 §2.2)."""
    asked = _resources_of(payload)
    for resource in asked:
        if resource not in granted:
            raise InvalidTargetError(
                f"{resource} was not part of this grant (granted: {', '.join(granted)})"
            )
    return asked or list(granted)


def _live_identity(ctx: OAuthContext, identity_id: str) -> Identity | None:
    async def load() -> Identity | None:
        async with ctx.db.session() as session:
            identity = await session.get(Identity, identity_id)
        if identity is None or identity.disabled_at is not None:
            return None
        return identity

    return blocking(load)


def _issue(
    ctx: OAuthContext,
    *,
    user: Identity,
    client: IntentClient,
    scopes: list[str],
    audience: list[str],
    family_id: str,
    event: str,
    rotate: str | None = None,
) -> dict[str, Any]:
    """New tokens of one family (rotating ``rotate``, a refresh token id, atomically)."""

    async def issue() -> store_oauth.IssuedTokens | None:
        async with ctx.db.transaction() as session:
            if rotate is not None and not await store_oauth.rotate_refresh_token(session, rotate):
                return None
            return await store_oauth.issue_tokens(
                session,
                identity_id=user.id,
                client_id=client.get_client_id(),
                scopes=scopes,
                audience=audience,
                family_id=family_id,
                access_ttl=ctx.access_ttl,
                refresh_ttl=ctx.refresh_ttl if client.check_grant_type("refresh_token") else None,
            )

    issued = blocking(issue)
    if issued is None:
        raise _reused(ctx, family_id, user.id, client.get_client_id())
    ctx.audit(
        event,
        subject_id=user.id,
        subject_name=user.name,
        client_id=client.get_client_id(),
        details={"scopes": scopes, "audience": audience, "family": family_id},
    )
    body: dict[str, Any] = {
        "token_type": "Bearer",
        "access_token": issued.access_token,
        "expires_in": issued.expires_in,
        "scope": str(list_to_scope(scopes)),
    }
    if issued.refresh_token:
        body["refresh_token"] = issued.refresh_token
    return body


def _reused(ctx: OAuthContext, family_id: str, identity_id: str, client_id: str) -> OAuth2Error:
    """A rotated refresh token came back: someone holds a copy. End the whole sign-in."""

    async def revoke() -> int:
        async with ctx.db.transaction() as session:
            return await store_oauth.revoke_family(session, family_id)

    revoked = blocking(revoke)
    ctx.audit(
        "refresh_reuse",
        outcome="refused",
        subject_id=identity_id,
        client_id=client_id,
        details={"family": family_id, "revoked_tokens": revoked},
    )
    return InvalidGrantError(
        "this refresh token was already used, so every token of this sign-in is now "
        "revoked (a copy may have leaked). Sign in again"
    )


# -- refresh ------------------------------------------------------------------------------


@dataclass
class IssuedToken(TokenMixin):
    row: OAuthToken

    def check_client(self, client: IntentClient) -> bool:
        return bool(self.row.client_id == client.get_client_id())

    def get_scope(self) -> str:
        return str(list_to_scope(self.row.scopes))

    def get_expires_in(self) -> int:
        return max(0, int((self.row.expires_at - utcnow()).total_seconds()))

    def is_expired(self) -> bool:
        return bool(self.row.expires_at <= utcnow())

    def is_revoked(self) -> bool:
        return self.row.revoked_at is not None


async def _lookup(ctx: OAuthContext, clear: str) -> OAuthToken | None:
    async with ctx.db.session() as session:
        found = await store_oauth.find_token(session, clear)
    return None if found is None else found[0]


class RefreshGrant(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = _AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> IssuedToken | None:
        ctx = _ctx(self.server)
        found = blocking(_lookup, ctx, refresh_token)
        if found is None or found.kind != "refresh":
            return None
        token = IssuedToken(found)
        if token.is_revoked():
            raise InvalidGrantError("this refresh token was revoked; sign in again")
        if token.is_expired():
            raise InvalidGrantError("this refresh token expired; sign in again")
        if found.rotated_at is not None:
            raise _reused(ctx, found.family_id, found.identity_id, found.client_id)
        return token

    def authenticate_user(self, refresh_token: IssuedToken) -> Identity | None:
        return _live_identity(_ctx(self.server), refresh_token.row.identity_id)

    def revoke_old_credential(self, refresh_token: IssuedToken) -> None:
        """Done atomically with issuing the new pair (see ``create_token_response``)."""

    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        old: IssuedToken = self.request.refresh_token
        user = self.authenticate_user(old)
        if user is None:
            raise InvalidGrantError("the user of this sign-in is disabled")
        scopes = scope_to_list(self.request.payload.scope) or list(old.row.scopes)
        token = _issue(
            _ctx(self.server),
            user=user,
            client=self.request.client,
            scopes=[s for s in ALL_SCOPES if s in scopes],
            audience=_narrowed(self.request.payload, old.row.audience),
            family_id=old.row.family_id,
            event="token_refreshed",
            rotate=old.row.id,
        )
        return 200, token, self.TOKEN_RESPONSE_HEADER


# -- revocation ---------------------------------------------------------------------------


class Revocation(RevocationEndpoint):
    CLIENT_AUTH_METHODS = _AUTH_METHODS

    def query_token(self, token_string: str, token_type_hint: str | None) -> IssuedToken | None:
        found = blocking(_lookup, _ctx(self.server), token_string)
        return None if found is None else IssuedToken(found)

    def revoke_token(self, token: IssuedToken, request: Any) -> None:
        ctx = _ctx(self.server)
        row = token.row

        async def revoke() -> None:
            async with ctx.db.transaction() as session:
                # Revoking a refresh token ends the sign-in it belongs to (RFC 7009 §2.1).
                if row.kind == "refresh":
                    await store_oauth.revoke_family(session, row.family_id)
                else:
                    await store_oauth.revoke_token(session, row.id)

        blocking(revoke)
        ctx.audit(
            "token_revoked",
            subject_id=row.identity_id,
            client_id=row.client_id,
            details={"kind": row.kind, "family": row.family_id},
        )


# -- dynamic client registration ----------------------------------------------------------


class Registration(ClientRegistrationEndpoint):
    def authenticate_token(self, request: Any) -> bool:
        # MCP clients register before anyone signs in; what a registration can do is
        # bounded by the user's consent afterwards.
        if not _ctx(self.server).app.settings.oauth_dynamic_registration:
            raise AccessDeniedError(
                "dynamic client registration is turned off on this server; ask an admin "
                "for a client id, or use a client metadata document URL as client_id"
            )
        return True

    def get_server_metadata(self) -> dict[str, Any]:
        owner: IntentAuthorizationServer = self.server
        return owner.metadata()

    def generate_client_id(self, request: Any) -> str:
        return "mcp_" + secrets.token_urlsafe(18)

    def generate_client_secret(self, request: Any) -> str | None:
        method = request.payload.data.get("token_endpoint_auth_method", "client_secret_basic")
        return None if method == "none" else secrets.token_urlsafe(32)

    def create_registration_response(self, request: Any) -> tuple[int, dict[str, Any], Any]:
        status, body, headers = super().create_registration_response(request)
        # Clients validate strictly: leave out what is not there instead of sending null.
        return status, {k: v for k, v in body.items() if v is not None}, headers

    def save_client(
        self, client_info: dict[str, Any], client_metadata: dict[str, Any], request: Any
    ) -> IntentClient:
        ctx = _ctx(self.server)
        redirects = client_metadata.get("redirect_uris") or []
        method = client_metadata.get("token_endpoint_auth_method", "client_secret_basic")
        grants_asked = client_metadata.get("grant_types", ["authorization_code"])
        responses = client_metadata.get("response_types", ["code"])
        problem = client_metadata_problem(redirects, grants_asked, responses)
        if problem:
            raise InvalidClientMetadataError(problem.replace('"', "'"))
        if method not in TOKEN_AUTH_METHODS:
            raise InvalidClientMetadataError(
                f"token_endpoint_auth_method {method} is not supported; use one of "
                f"{', '.join(TOKEN_AUTH_METHODS)}"
            )
        secret = client_info.get("client_secret")
        row = OAuthClient(
            client_id=client_info["client_id"],
            kind="registered",
            client_name=str(client_metadata.get("client_name", ""))[:200],
            redirect_uris=list(redirects),
            grant_types=list(grants_asked),
            response_types=list(responses),
            token_endpoint_auth_method=method,
            scope=str(client_metadata.get("scope", "")),
            secret_hash=hash_token(secret) if secret else None,
            metadata_json={k: v for k, v in client_metadata.items() if k != "client_secret"},
        )

        async def save() -> None:
            async with ctx.db.transaction() as session:
                await store_oauth.save_client(session, row)

        blocking(save)
        ctx.audit(
            "client_registered",
            client_id=row.client_id,
            details={"client_name": row.client_name, "redirect_uris": row.redirect_uris},
        )
        return IntentClient(row)
