"""The REST API and /healthz over real HTTP."""

from __future__ import annotations

from pathlib import Path

import httpx
from fastapi.testclient import TestClient

from server import create_app
from settings import Settings
from tests.support.stack import IntentStack, free_port


async def test_healthz_reports_database_and_temporal(stack: IntentStack) -> None:
    async with httpx.AsyncClient(base_url=stack.base_url) as http:
        response = await http.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "database": "ok",
        "temporal": "ok",
        "workers": "ok",
        "instance": stack.settings.instance_id,
    }


def test_healthz_degrades_when_temporal_is_unreachable(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, temporal_address=f"127.0.0.1:{free_port()}")
    with TestClient(create_app(settings)) as http:
        response = http.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["database"] == "ok"
    assert body["status"] == "degraded" and body["temporal"].startswith("error")
    assert body["workers"].startswith("unknown")


async def test_healthz_says_when_no_worker_polls(stack: IntentStack, tmp_path: Path) -> None:
    settings = stack.settings.model_copy(update={"temporal_task_queue": "nobody-polls-this"})
    app = create_app(settings, db=stack.db, temporal=stack.client, migrate=False)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as http:
        response = await http.get("/healthz")
    assert response.status_code == 200  # this server can serve; changes would wait
    body = response.json()
    assert body["status"] == "degraded"
    assert "no worker is polling task queue nobody-polls-this" in body["workers"]


async def test_rest_requires_a_token_and_validates_input(stack: IntentStack) -> None:
    async with httpx.AsyncClient(base_url=stack.base_url) as anonymous:
        response = await anonymous.get("/api/v1/projects")
        assert response.status_code == 401
        metadata = f"{stack.base_url}/.well-known/oauth-protected-resource/api/v1"
        assert response.headers["www-authenticate"] == (
            f'Bearer realm="intent", resource_metadata="{metadata}", scope="mcp:read mcp:write"'
        )
        assert "sign in through OAuth" in response.json()["detail"]
    http = await stack.http("alice")
    assert (await http.get("/api/v1/me")).json()["name"] == "alice"
    bad = await http.post("/api/v1/projects", json={"name": "../etc"})
    assert bad.status_code == 422
    assert "name" in bad.text
    missing = await http.get("/api/v1/projects/ghost")
    assert missing.status_code == 404
    assert missing.json() == {
        "error": "not_found",
        "message": "project 'ghost' does not exist; list projects with project-list or "
        "create it with project-create",
    }
    created = await http.post("/api/v1/projects", json={"name": "rest", "labels": ["prod"]})
    assert created.status_code == 201
    dup = await http.post("/api/v1/projects", json={"name": "rest"})
    assert dup.status_code == 409 and "already exists" in dup.json()["message"]
    page = (await http.get("/api/v1/projects", params={"limit": 1})).json()
    assert len(page["projects"]) == 1
