"""Sign-in through an upstream OpenID Connect provider: a small provider runs here (the
real protocol: discovery, authorization code with PKCE, RS256 ID tokens, JWKS), its
groups claim becomes role bindings, and forged or stale callbacks are refused."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse
from starlette.routing import Route
from temporalio.testing import WorkflowEnvironment

from store import audit
from tests.identity.oauth_support import serve
from tests.support.stack import free_port, run_stack


@dataclass
class Provider:
    port: int
    client_id: str = "intent"
    client_secret: str = "provider-secret"
    user: dict[str, Any] = field(default_factory=dict)
    wrong_nonce: bool = False
    key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, {"kid": "k1"}))
    pending: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def app(self) -> Starlette:
        async def discovery(_: Request) -> JSONResponse:
            return JSONResponse(
                {
                    "issuer": self.issuer,
                    "authorization_endpoint": f"{self.issuer}/authorize",
                    "token_endpoint": f"{self.issuer}/token",
                    "jwks_uri": f"{self.issuer}/jwks",
                    "response_types_supported": ["code"],
                    "subject_types_supported": ["public"],
                    "id_token_signing_alg_values_supported": ["RS256"],
                }
            )

        async def authorize(request: Request) -> RedirectResponse:
            q = request.query_params
            assert q["client_id"] == self.client_id and q["code_challenge_method"] == "S256"
            code = secrets.token_urlsafe(16)
            self.pending[code] = {"nonce": q["nonce"], "challenge": q["code_challenge"]}
            # The user signed in at the provider; back to the client it goes.
            target = q["redirect_uri"] + "?" + urlencode({"code": code, "state": q["state"]})
            return RedirectResponse(target, status_code=302)

        async def token(request: Request) -> JSONResponse:
            form = await request.form()
            basic = base64.b64decode(request.headers["authorization"].split()[1]).decode()
            if basic != f"{self.client_id}:{self.client_secret}":
                return JSONResponse({"error": "invalid_client"}, status_code=401)
            grant = self.pending.pop(str(form["code"]), None)
            digest = hashlib.sha256(str(form.get("code_verifier", "")).encode()).digest()
            challenge = base64.urlsafe_b64encode(digest).decode().rstrip("=")
            if grant is None or grant["challenge"] != challenge:
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
            now = int(time.time())
            claims = {
                "iss": self.issuer,
                "aud": self.client_id,
                "iat": now,
                "exp": now + 300,
                "nonce": "not-yours" if self.wrong_nonce else grant["nonce"],
                **self.user,
            }
            id_token = jwt.encode({"alg": "RS256", "kid": "k1"}, claims, self.key)
            return JSONResponse(
                {"access_token": "upstream", "token_type": "Bearer", "id_token": id_token}
            )

        async def jwks(_: Request) -> JSONResponse:
            return JSONResponse(KeySet([self.key]).as_dict(private=False))

        return Starlette(
            routes=[
                Route("/.well-known/openid-configuration", discovery),
                Route("/authorize", authorize),
                Route("/token", token, methods=["POST"]),
                Route("/jwks", jwks),
            ]
        )


@asynccontextmanager
async def provider() -> AsyncIterator[Provider]:
    idp = Provider(free_port())
    async with serve(idp.app(), idp.port):
        yield idp


async def test_upstream_sign_in_brings_groups_that_carry_role_bindings(
    temporal_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    async with (
        provider() as idp,
        run_stack(
            temporal_env,
            tmp_path,
            oidc_issuer=idp.issuer,
            oidc_client_id=idp.client_id,
            oidc_client_secret=idp.client_secret,
            oidc_name="Test IdP",
        ) as stack,
    ):
        boss = await stack.http("boss", roles=["space-admin"])
        bound = await boss.post(
            "/api/v1/spaces/root/bindings",
            json={"role": "space-writer", "subject_kind": "group", "subject": "engineers"},
        )
        assert bound.status_code == 201, bound.text
        idp.user = {
            "sub": "u-42",
            "preferred_username": "olga",
            "email": "olga@example.com",
            "groups": ["engineers", "berlin"],
        }
        async with httpx.AsyncClient(base_url=stack.base_url, follow_redirects=True) as browser:
            login = await browser.get("/ui/login")
            assert "Sign in with Test IdP" in login.text
            landed = await browser.get("/oauth/upstream/login", params={"next": "/ui/projects"})
            assert landed.url.path == "/ui/projects" and "olga" in landed.text
            assert "Create project" in landed.text  # the group's binding applies
            csrf = landed.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
            made = await browser.post(
                "/ui/projects",
                data={"name": "from-sso", "csrf": csrf},
                headers={"Origin": stack.base_url},
            )
            assert made.url.path == "/ui/projects/from-sso"

        users = {u["name"]: u for u in (await boss.get("/api/v1/users")).json()}
        assert users["olga"]["upstream"] and users["olga"]["groups"] == ["berlin", "engineers"]
        async with stack.db.session() as session:
            events = await audit.list_events(session, subject="olga")
        assert [(e.event, e.details.get("method")) for e in events] == [("login", "oidc")]

        # A callback that did not start here, and an ID token for another nonce.
        async with httpx.AsyncClient(base_url=stack.base_url) as stranger:
            forged = await stranger.get(
                "/oauth/upstream/callback", params={"code": "x", "state": "y"}
            )
            assert forged.status_code == 401
            assert "did not start here" in forged.text
        idp.wrong_nonce = True
        async with httpx.AsyncClient(base_url=stack.base_url, follow_redirects=True) as browser:
            refused = await browser.get("/oauth/upstream/login")
            assert refused.status_code == 401 and "ID token is not valid" in refused.text
