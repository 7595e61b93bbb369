"""Users (passwords, one-time links, rate-limited sign-in, disabling), API keys (scoped,
expiring, revocable, shown once) and the audit trail that records all of it."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from typer.testing import CliRunner

from cli import app
from tests.support.stack import IntentStack


async def sign_in(stack: IntentStack, name: str, password: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=stack.base_url) as http:
        return await http.post("/ui/login", data={"name": name, "password": password})


async def test_users_sign_in_with_a_password_they_set_through_a_link(stack: IntentStack) -> None:
    admin = await stack.http("root", roles=["space-admin"])
    created = await admin.post("/api/v1/users", json={"name": "carla", "email": "c@example.com"})
    assert created.status_code == 201, created.text
    link = created.json()["password_link"]["url"]
    token = link.split("token=", 1)[1]
    assert link.startswith(f"{stack.base_url}/ui/setup?token=")

    weak = await admin.post("/api/v1/users", json={"name": "dan", "password": "short"})
    assert weak.status_code == 422
    assert weak.json()["message"] == "password rejected: use at least 12 characters"

    async with httpx.AsyncClient(base_url=stack.base_url) as browser:
        page = await browser.get("/ui/setup", params={"token": token})
        assert "carla" in page.text
        mismatch = await browser.post(
            "/ui/setup", data={"token": token, "password": "x" * 12, "confirm": "y" * 12}
        )
        assert "the%20two%20passwords%20differ" in mismatch.headers["location"]
        chosen = "carla's long password"
        done = await browser.post(
            "/ui/setup", data={"token": token, "password": chosen, "confirm": chosen}
        )
        assert done.status_code == 303 and done.headers["location"] == "/ui/projects"
        assert (await browser.get("/ui/setup", params={"token": token})).status_code == 410

    assert (await sign_in(stack, "carla", "carla's long password")).status_code == 303
    wrong = await sign_in(stack, "carla", "not it at all")
    assert wrong.status_code == 401 and "wrong user name or password" in wrong.text
    unknown = await sign_in(stack, "nobody", "not it at all")
    assert unknown.status_code == 401 and "wrong user name or password" in unknown.text

    listed = {u["name"]: u for u in (await admin.get("/api/v1/users")).json()}
    assert listed["carla"]["has_password"] and listed["carla"]["last_login_at"]

    events = (await admin.get("/api/v1/audit", params={"subject": "carla"})).json()["events"]
    seen = [(e["event"], e["outcome"]) for e in events]
    assert ("user_created", "succeeded") in seen and ("password_set", "succeeded") in seen
    assert ("login", "succeeded") in seen and ("login", "failed") in seen
    assert "carla's long password" not in str(events)

    alice = await stack.http("alice")
    refused = await alice.get("/api/v1/audit")
    assert refused.status_code == 403
    assert "may not read the authentication audit trail" in refused.json()["message"]
    assert (await alice.post("/api/v1/users", json={"name": "eve"})).status_code == 403


async def test_failed_sign_ins_are_rate_limited_and_recorded(stack: IntentStack) -> None:
    password = await stack.password("gus")
    for _ in range(stack.settings.login_max_failures):
        assert (await sign_in(stack, "gus", "guessing wrong")).status_code == 401
    limited = await sign_in(stack, "gus", password)
    assert limited.status_code == 429
    assert "too many failed sign-ins for gus; wait 15 minutes" in limited.text
    admin = await stack.http("root", roles=["space-admin"])
    events = (await admin.get("/api/v1/audit", params={"subject": "gus"})).json()["events"]
    outcomes = [e["outcome"] for e in events if e["event"] == "login"]
    assert outcomes.count("failed") == stack.settings.login_max_failures
    assert outcomes[0] == "refused"


async def test_api_keys_are_scoped_expiring_and_revocable(stack: IntentStack) -> None:
    alice = await stack.http("alice")
    made = await alice.post(
        "/api/v1/keys", json={"name": "ci", "scopes": ["mcp:read"], "expires_in_days": 1}
    )
    assert made.status_code == 201, made.text
    body = made.json()
    key = body["key"]
    assert key.startswith("intent_") and body["scopes"] == ["mcp:read"] and body["expires_at"]
    listed = (await alice.get("/api/v1/keys")).json()
    assert [k["name"] for k in listed if k["id"] == body["id"]] == ["ci"]
    assert all("key" not in k for k in listed)  # shown once, never again

    async with httpx.AsyncClient(
        base_url=stack.base_url, headers={"Authorization": f"Bearer {key}"}
    ) as ci:
        me = (await ci.get("/api/v1/me")).json()
        assert me["name"] == "alice" and me["scopes"] == ["mcp:read"]
        more = await ci.post("/api/v1/keys", json={"name": "escalate"})
        assert more.status_code == 403
        assert "a read-only credential cannot create API keys" in more.json()["message"]

        foreign = await alice.post("/api/v1/keys", json={"name": "x", "identity": "root"})
        assert foreign.status_code == 403

        revoked = await alice.delete(f"/api/v1/keys/{body['prefix']}")
        assert revoked.status_code == 200 and revoked.json()["revoked_at"]
        after = await ci.get("/api/v1/me")
        assert after.status_code == 401
        assert after.json()["detail"].startswith(f"API key {body['prefix']}… was revoked")

    admin = await stack.http("root", roles=["space-admin"])
    kinds = [e["event"] for e in (await admin.get("/api/v1/audit")).json()["events"]]
    assert "key_created" in kinds and "key_revoked" in kinds


async def test_disabled_users_lose_every_way_in(stack: IntentStack) -> None:
    password = await stack.password("hal")
    key = await stack.token("hal")
    admin = await stack.http("root", roles=["space-admin"])
    assert (await admin.post("/api/v1/users/hal/disable")).json()["disabled"]
    assert (await sign_in(stack, "hal", password)).status_code == 401
    async with httpx.AsyncClient(base_url=stack.base_url) as http:
        refused = await http.get("/api/v1/me", headers={"Authorization": f"Bearer {key}"})
    assert refused.status_code == 401
    assert refused.json()["detail"] == "user hal is disabled; ask an admin to enable it"
    assert (await admin.post("/api/v1/users/hal/enable")).json()["disabled"] is False
    assert (await sign_in(stack, "hal", password)).status_code == 303


def test_users_cli(tmp_path: Path) -> None:
    runner = CliRunner()
    data = ["--data-dir", str(tmp_path / "data")]
    created = runner.invoke(app, ["users", "create", "ivy", "--email", "ivy@example.com", *data])
    assert created.exit_code == 0, created.output
    assert re.search(r"http://127\.0\.0\.1:8080/ui/setup\?token=\S+", created.output)
    again = runner.invoke(app, ["users", "create", "ivy", *data])
    assert again.exit_code == 1 and "exists already" in again.output
    link = runner.invoke(app, ["users", "passwd", "ivy", "--link", *data])
    assert "/ui/setup?token=" in link.output
    typed = runner.invoke(
        app, ["users", "passwd", "ivy", *data], input="ivy's new password\nivy's new password\n"
    )
    assert typed.exit_code == 0, typed.output
    assert "ivy's new password" not in typed.output.replace("New password", "")
    assert runner.invoke(app, ["users", "disable", "ivy", *data]).exit_code == 0
    listed = runner.invoke(app, ["users", "list", *data]).output
    assert re.search(r"ivy\s+human\s+password\s+.*disabled", listed), listed


async def test_automation_signs_in_to_the_web_ui_with_an_api_key(stack: IntentStack) -> None:
    writer = await stack.http("wendy")
    made = await writer.post("/api/v1/keys", json={"name": "robot", "scopes": ["mcp:read"]})
    key = made.json()["key"]
    async with httpx.AsyncClient(base_url=stack.base_url) as robot:
        refused = await robot.post("/ui/login/key", data={"token": key + "x"})
        assert "that API key is not valid" in refused.text
        signed_in = await robot.post("/ui/login/key", data={"token": key})
        assert signed_in.status_code == 303 and "intent_session" in signed_in.cookies
        assert key not in str(signed_in.headers)  # the cookie is a session, not the key
        page = await robot.get("/ui/projects")
        assert page.status_code == 200 and "wendy" in page.text
        csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
        assert csrf is not None
        # The session acts within the key's limits: this key is read-only.
        create = await robot.post("/ui/projects", data={"name": "by-robot", "csrf": csrf.group(1)})
        assert create.status_code == 403 and "read-only" in create.text
