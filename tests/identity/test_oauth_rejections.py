"""What the authorization server and the protected resources refuse, each with an error
that says what is wrong: PKCE missing, plain or wrong; redirect URIs not registered;
tokens for another audience, expired or revoked; a replayed refresh token (its whole
family is revoked); a read-only token calling a write tool; a client metadata URL on
a private address."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import update

from store.models import OAuthToken
from store.types import utcnow
from tests.api.mcp_client import mcp_client, text_of
from tests.identity.oauth_support import code_of, pkce_pair, signed_in_code
from tests.support.stack import IntentStack

REDIRECT = "http://127.0.0.1:9/callback"


@dataclass
class Registered:
    client_id: str
    browser: httpx.AsyncClient
    anonymous: httpx.AsyncClient

    def authorize_params(self, challenge: str, **extra: str) -> dict[str, str]:
        return {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": REDIRECT,
            "state": "s1",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            **extra,
        }

    async def tokens(
        self,
        stack: IntentStack,
        *,
        grant: tuple[str, ...] = ("mcp:read", "mcp:write"),
        **extra: str,
    ) -> dict[str, Any]:
        verifier, challenge = pkce_pair()
        redirect = await signed_in_code(
            self.browser, self.authorize_params(challenge, **extra), grant=grant
        )
        query = code_of(redirect)
        assert query["iss"] == stack.base_url and query["state"] == "s1"
        response = await self.exchange(query["code"], verifier)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def exchange(
        self, code: str, verifier: str, redirect_uri: str = REDIRECT
    ) -> httpx.Response:
        return await self.anonymous.post(
            "/oauth/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "client_id": self.client_id,
                "code_verifier": verifier,
            },
        )

    async def refresh(self, refresh_token: str) -> httpx.Response:
        return await self.anonymous.post(
            "/oauth/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": refresh_token,
                "client_id": self.client_id,
            },
        )


async def register(
    stack: IntentStack, user: str = "ana", roles: list[str] | None = None
) -> Registered:
    """A dynamically registered public client, and a browser signed in as ``user`` (a
    writer in root unless ``roles`` say otherwise) by password."""
    anonymous = httpx.AsyncClient(base_url=stack.base_url, timeout=30)
    response = await anonymous.post(
        "/oauth/register",
        json={
            "client_name": "Rejection Tester",
            "redirect_uris": [REDIRECT],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
        },
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert "client_secret" not in body  # a public client gets no secret (and no null)
    return Registered(body["client_id"], await stack.signed_in(user, roles), anonymous)


def error_of(response: httpx.Response) -> tuple[str, str]:
    if response.status_code == 302:
        query = code_of(response)
        return query["error"], query.get("error_description", "")
    body = response.json()
    return body["error"], body.get("error_description", "")


async def test_authorization_requests_without_s256_pkce_are_refused(stack: IntentStack) -> None:
    client = await register(stack)
    _, challenge = pkce_pair()
    params = client.authorize_params(challenge)

    no_pkce = {k: v for k, v in params.items() if not k.startswith("code_challenge")}
    response = await client.browser.get("/oauth/authorize", params=no_pkce)
    assert error_of(response) == (
        "invalid_request",
        "PKCE is required: send code_challenge with code_challenge_method=S256",
    )
    assert code_of(response)["iss"] == stack.base_url  # RFC 9207 on errors too

    plain = {**params, "code_challenge_method": "plain"}
    response = await client.browser.get("/oauth/authorize", params=plain)
    assert error_of(response) == (
        "invalid_request",
        "code_challenge_method must be S256; plain PKCE is not accepted",
    )


async def test_wrong_verifier_and_redirect_mismatches_are_refused(stack: IntentStack) -> None:
    client = await register(stack)
    verifier, challenge = pkce_pair()

    unregistered = await client.browser.get(
        "/oauth/authorize",
        params={**client.authorize_params(challenge), "redirect_uri": "https://evil.example/cb"},
    )
    # Never redirect to an unknown place: the error is shown here.
    assert unregistered.status_code == 400
    assert "https://evil.example/cb is not supported by client" in unregistered.text

    # A loopback redirect may use any port (RFC 8252 §7.3), but nothing else may differ.
    other_port = await signed_in_code(
        client.browser,
        {**client.authorize_params(challenge), "redirect_uri": "http://127.0.0.1:4711/callback"},
    )
    assert other_port.headers["location"].startswith("http://127.0.0.1:4711/callback?code=")
    code = code_of(other_port)["code"]
    mismatch = await client.exchange(code, verifier)
    assert error_of(mismatch) == ("invalid_grant", "Invalid 'redirect_uri' in request.")

    fresh = code_of(await signed_in_code(client.browser, client.authorize_params(challenge)))
    wrong = await client.exchange(fresh["code"], pkce_pair()[0])
    assert error_of(wrong) == (
        "invalid_grant",
        "code_verifier does not match the code_challenge of the authorization request",
    )
    replay = await client.exchange(fresh["code"], verifier)
    assert error_of(replay)[0] == "invalid_grant"
    assert "already used" in error_of(replay)[1]


async def test_tokens_are_bound_to_their_audience_and_lifetime(stack: IntentStack) -> None:
    client = await register(stack)
    rest_only = await client.tokens(stack, resource=f"{stack.base_url}/api/v1")
    bearer = {"Authorization": f"Bearer {rest_only['access_token']}"}
    assert (await client.anonymous.get("/api/v1/me", headers=bearer)).json()["name"] == "ana"
    refused = await client.anonymous.post("/mcp", headers=bearer, json={})
    assert refused.status_code == 401
    header = refused.headers["www-authenticate"]
    assert 'error="invalid_token"' in header
    assert (
        f'resource_metadata="{stack.base_url}/.well-known/oauth-protected-resource/mcp"' in header
    )
    assert refused.json()["message"] == (
        f"this access token was issued for {stack.base_url}/api/v1, not for "
        f"{stack.base_url}/mcp; sign in for {stack.base_url}/mcp"
    )

    foreign = await client.browser.get(
        "/oauth/authorize",
        params=client.authorize_params(pkce_pair()[1], resource="https://elsewhere.example/mcp"),
    )
    assert error_of(foreign)[0] == "invalid_target"

    mcp = await client.tokens(stack)  # no resource named: the MCP endpoints
    async with stack.db.transaction() as session:
        await session.execute(
            update(OAuthToken)
            .where(OAuthToken.kind == "access")
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    expired = await client.anonymous.get(
        "/api/v1/me", headers={"Authorization": f"Bearer {mcp['access_token']}"}
    )
    assert expired.status_code == 401
    assert "expired" in expired.json()["detail"]


async def test_revoked_tokens_and_reused_refresh_tokens(stack: IntentStack) -> None:
    client = await register(stack)
    first = await client.tokens(stack, resource=f"{stack.base_url}/api/v1")
    revoked = await client.anonymous.post(
        "/oauth/revoke", data={"token": first["access_token"], "client_id": client.client_id}
    )
    assert revoked.status_code == 200
    after = await client.anonymous.get(
        "/api/v1/me", headers={"Authorization": f"Bearer {first['access_token']}"}
    )
    assert after.status_code == 401 and "revoked" in after.json()["detail"]

    rotated = await client.refresh(first["refresh_token"])
    assert rotated.status_code == 200, rotated.text
    second = rotated.json()
    assert second["refresh_token"] != first["refresh_token"]
    live = {"Authorization": f"Bearer {second['access_token']}"}
    assert (await client.anonymous.get("/api/v1/me", headers=live)).status_code == 200

    replayed = await client.refresh(first["refresh_token"])
    assert error_of(replayed) == (
        "invalid_grant",
        "this refresh token was already used, so every token of this sign-in is now revoked "
        "(a copy may have leaked). Sign in again",
    )
    # The whole family went with it: the legitimate holder must sign in again too.
    assert (await client.anonymous.get("/api/v1/me", headers=live)).status_code == 401
    assert (await client.refresh(second["refresh_token"])).status_code == 400


async def test_read_only_token_sees_and_calls_only_read_tools(stack: IntentStack) -> None:
    client = await register(stack)
    read_only = await client.tokens(stack, grant=("mcp:read",))
    assert read_only["scope"] == "mcp:read"
    async with mcp_client(stack.mcp_url, read_only["access_token"]) as session:
        tools = {t.name: t for t in (await session.list_tools()).tools}
        assert "project-list" in tools and "project-create" not in tools
        assert all(t.annotations and t.annotations.read_only_hint for t in tools.values())
        refused = await session.call_tool("project-create", {"name": "nope"})
        assert refused.is_error
        assert text_of(refused).startswith(
            "project-create changes things, and this connection is read-only"
        )
        assert not (await session.call_tool("project-list", {})).is_error


async def test_client_metadata_document_on_a_private_address(stack: IntentStack) -> None:
    client = await register(stack)
    response = await client.browser.get(
        "/oauth/authorize",
        params={
            **client.authorize_params(pkce_pair()[1]),
            "client_id": "https://127.0.0.1:8443/client.json",
        },
    )
    assert response.status_code == 400
    assert (
        "refusing to fetch a client metadata document from 127.0.0.1: 127.0.0.1 is not a "
        "public address"
    ) in response.text
