"""Client metadata: redirect URI rules (RFC 8252 loopback), client metadata documents."""

from __future__ import annotations

import json

import pytest

from api.oauth.clients import IntentClient, redirect_uri_problem
from api.oauth.metadata_documents import ClientMetadataError, parse_document

URL = "https://app.example.com/oauth/client.json"


def doc(**fields: object) -> bytes:
    body = {"client_id": URL, "client_name": "App", "redirect_uris": ["http://127.0.0.1/cb"]}
    return json.dumps({**body, **fields}).encode()


def test_redirect_uris() -> None:
    assert redirect_uri_problem("https://app.example.com/cb") is None
    assert redirect_uri_problem("http://127.0.0.1:3000/callback") is None
    assert redirect_uri_problem("cursor://anysphere.cursor-retrieval/oauth/callback") is None
    assert "use https" in (redirect_uri_problem("http://app.example.com/cb") or "")
    assert "javascript" in (redirect_uri_problem("javascript:alert(1)") or "")
    assert "fragment" in (redirect_uri_problem("https://a.example/cb#x") or "")


def test_loopback_redirects_match_on_any_port_only() -> None:
    client = IntentClient(parse_document(URL, doc()))
    assert client.check_redirect_uri("http://127.0.0.1/cb")
    assert client.check_redirect_uri("http://127.0.0.1:53124/cb")
    assert not client.check_redirect_uri("http://127.0.0.1:53124/other")
    assert not client.check_redirect_uri("http://localhost:53124/cb")
    assert not client.check_redirect_uri("https://127.0.0.1:53124/cb")


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"client_id": "https://elsewhere.example/c.json"}, "it must be exactly its own URL"),
        ({"client_secret": "s"}, "must not hold a secret"),
        ({"token_endpoint_auth_method": "client_secret_basic"}, "only public clients"),
        ({"redirect_uris": []}, "redirect_uris is required"),
        ({"redirect_uris": ["http://evil.example/cb"]}, "use https"),
        ({"grant_types": ["implicit"]}, "implicit not supported"),
    ],
)
def test_documents_that_cannot_be_used(fields: dict[str, object], problem: str) -> None:
    with pytest.raises(ClientMetadataError, match=problem):
        parse_document(URL, doc(**fields))
