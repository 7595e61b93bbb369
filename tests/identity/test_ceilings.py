"""Nothing a caller sends widens what they may do, through the real server.

- Users are managed only by someone holding at least what they hold: no key acting as
  a person, no role handed out beyond the giver's, no password or link for a bigger
  account, no custom role widened past its editor (REST and the UI).
- A key made with a key stays within its space and lifetime (REST and the UI).
- Passwords are set from a full sign-in only, with the current one; setting one ends
  the user's web sessions and app sign-ins (keys stay, and the answer says so).
- A web session opened with an API key authorizes no OAuth app.
- Moving a project needs intent-project:move where it is and may not widen the mover's
  hold on it; history names the policies that stop and start governing it.
- Space names cannot pass for ids, and lookups prefer ids.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
from sqlalchemy import func, select

from store.models import OAuthCode, Space
from tests.identity.oauth_support import pkce_pair
from tests.identity.test_oauth_rejections import Registered, register
from tests.support.stack import IntentStack

SECRET = "a long enough new password"
POLICY = 'package spacelift\n\nallow contains "ok" if { true }\n'


def bearer(stack: IntentStack, token: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=stack.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=60
    )


async def signed_in_app(
    stack: IntentStack, user: str, roles: list[str] | None = None
) -> tuple[httpx.AsyncClient, Registered, dict[str, Any]]:
    """A REST client holding an OAuth access token of ``user`` (a full sign-in: password,
    consent), the registered client and the token response."""
    client = await register(stack, user, roles)
    tokens = await client.tokens(stack, resource=f"{stack.base_url}/api/v1")
    return bearer(stack, tokens["access_token"]), client, tokens


async def csrf_of(browser: httpx.AsyncClient) -> str:
    page = await browser.get("/ui/projects")
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
    assert found is not None, page.text
    return found.group(1)


def message(response: httpx.Response) -> str:
    text: str = response.json()["message"]
    return text


async def test_users_are_managed_only_by_someone_holding_as_much(stack: IntentStack) -> None:
    root = await stack.http("root", roles=["space-admin"])
    made = await root.post(
        "/api/v1/roles", json={"name": "user-manager", "actions": ["intent-user:manage"]}
    )
    assert made.status_code == 201, made.text
    mallory = await stack.http("mallory", roles=["user-manager"])

    as_root = await mallory.post("/api/v1/keys", json={"name": "k", "identity": "root"})
    assert as_root.status_code == 403
    assert message(as_root) == (
        "root is a person, and only they make keys that act as them (signed in: the Access "
        "page or POST /api/v1/keys); for automation, name a machine identity (a new name "
        "creates one)"
    )
    bot = await mallory.post(
        "/api/v1/keys", json={"name": "k", "identity": "bot", "roles": ["space-admin"]}
    )
    assert bot.status_code == 403
    assert message(bot).startswith(
        "mallory may not give bot role space-admin in space root: it grants intent-audit:read,"
    )
    assert message(bot).endswith("which mallory does not hold there; ask someone who holds them")
    user = await mallory.post("/api/v1/users", json={"name": "mal2", "roles": ["space-admin"]})
    assert user.status_code == 403
    assert message(user).startswith("mallory may not give mal2 role space-admin in space root")
    unknown = await mallory.post("/api/v1/users", json={"name": "mal3", "roles": ["no-such"]})
    assert unknown.status_code == 404 and "there is no role 'no-such'" in message(unknown)
    names = {u["name"] for u in (await root.get("/api/v1/users")).json()}
    assert not names & {"bot", "mal2", "mal3"}  # nothing half-made

    by_key = await mallory.put("/api/v1/users/root/password", json={"password": SECRET})
    assert by_key.status_code == 403
    assert message(by_key) == (
        "mallory may not set passwords with an API key (or a web session opened with one): "
        "sign in with your password or single sign-on and do it from there"
    )
    signed_in, _, _ = await signed_in_app(stack, "mallory", roles=[])
    takeover = await signed_in.put("/api/v1/users/root/password", json={"password": SECRET})
    assert takeover.status_code == 403
    assert message(takeover).startswith(
        "mallory may not set the password of root: root holds intent-audit:read,"
    )
    assert message(takeover).endswith(
        "in space root (role space-admin), which mallory does not; ask an admin who holds at "
        "least as much"
    )
    link = await signed_in.post("/api/v1/users/root/password-link")
    assert link.status_code == 403
    assert message(link).startswith("mallory may not make a password link for root: root holds")

    # The web UI asks the same rule.
    browser = await stack.signed_in("mallory", roles=[])
    disable = await browser.post(
        "/ui/access/users/root/disable", data={"csrf": await csrf_of(browser)}
    )
    assert disable.status_code == 403
    assert "mallory may not disable root: root holds" in disable.text
    assert (await root.get("/api/v1/me")).status_code == 200

    # Within those bounds a user manager does its job.
    newbie = await mallory.post("/api/v1/users", json={"name": "newbie"})
    assert newbie.status_code == 201, newbie.text
    assert (await signed_in.post("/api/v1/users/newbie/password-link")).status_code == 200
    machine = await mallory.post("/api/v1/keys", json={"name": "k", "identity": "ci-bot"})
    assert machine.status_code == 201, machine.text

    # An admin gives a machine identity roles it holds; the user manager, who holds less,
    # may then not act as it.
    deployer = await root.post(
        "/api/v1/keys", json={"name": "ci", "identity": "deployer", "roles": ["space-writer"]}
    )
    assert deployer.status_code == 201, deployer.text
    as_deployer = await mallory.post("/api/v1/keys", json={"name": "k", "identity": "deployer"})
    assert as_deployer.status_code == 403
    assert message(as_deployer).startswith("mallory may not make an API key for deployer")
    own_roles = await mallory.post("/api/v1/keys", json={"name": "k", "roles": ["reader"]})
    assert own_roles.status_code == 422 and "roles are for a new machine identity" in message(
        own_roles
    )

    # A role manager cannot widen a role bound to them.
    made = await root.post(
        "/api/v1/roles", json={"name": "role-manager", "actions": ["intent-role:manage"]}
    )
    assert made.status_code == 201, made.text
    rita = await stack.http("rita", roles=["role-manager"])
    widened = await rita.put(
        "/api/v1/roles/role-manager",
        json={"actions": ["intent-role:manage", "intent-space:admin"]},
    )
    assert widened.status_code == 403
    assert message(widened) == (
        "rita may not add actions to role role-manager in space root: it grants "
        "intent-space:admin, which rita does not hold there; ask someone who holds them"
    )


async def test_keys_made_with_a_key_stay_within_it(stack: IntentStack) -> None:
    root = await stack.http("root", roles=["space-admin"])
    assert (await root.post("/api/v1/spaces", json={"name": "team-a"})).status_code == 201
    alice = await stack.http("alice")
    made = await alice.post(
        "/api/v1/keys", json={"name": "ci", "space": "team-a", "expires_in_days": 1}
    )
    assert made.status_code == 201, made.text
    parent = made.json()
    limited = bearer(stack, parent["key"])

    inherited = await limited.post("/api/v1/keys", json={"name": "child"})
    assert inherited.status_code == 201, inherited.text
    child = inherited.json()
    assert (child["space"], child["expires_at"]) == (parent["space"], parent["expires_at"])
    assert (await bearer(stack, child["key"]).get("/api/v1/me")).json()["space_limit"] == (
        parent["space"]
    )

    escape = await limited.post("/api/v1/keys", json={"name": "x", "space": "root"})
    assert escape.status_code == 403
    assert message(escape) == (
        "alice's API key is limited to another space, so a key made with it may not reach "
        "space root; limit the new key to the same space or one below it"
    )
    longer = await limited.post("/api/v1/keys", json={"name": "x", "expires_in_days": 30})
    assert longer.status_code == 403
    assert re.fullmatch(
        r"alice's API key expires at \S+, so a key made with it must expire by then; ask for "
        r"fewer days",
        message(longer),
    )

    # A web session opened with the key makes keys within it as well.
    async with httpx.AsyncClient(base_url=stack.base_url) as robot:
        opened = await robot.post("/ui/login/key", data={"token": parent["key"]})
        assert opened.status_code == 303
        page = await robot.post(
            "/ui/access/keys", data={"name": "from-ui", "csrf": await csrf_of(robot)}
        )
        assert page.status_code == 200 and "API key from-ui created" in page.text
    listed = {k["name"]: k for k in (await alice.get("/api/v1/keys")).json()}
    assert (listed["from-ui"]["space"], listed["from-ui"]["expires_at"]) == (
        parent["space"],
        parent["expires_at"],
    )


async def test_passwords_need_a_full_sign_in_and_end_earlier_ones(stack: IntentStack) -> None:
    old = await stack.password("alice")
    browser = await stack.signed_in("alice")
    app, client, tokens = await signed_in_app(stack, "alice")  # a second web session
    full_key = await stack.http("alice")
    read_only_key = await full_key.post("/api/v1/keys", json={"name": "ro", "scopes": ["mcp:read"]})
    for key in (full_key, bearer(stack, read_only_key.json()["key"])):
        refused = await key.put(
            "/api/v1/users/alice/password", json={"password": SECRET, "current_password": old}
        )
        assert refused.status_code == 403
        assert message(refused).startswith("alice may not set passwords with an API key")

    missing = await app.put("/api/v1/users/alice/password", json={"password": SECRET})
    assert missing.status_code == 422
    assert message(missing) == "give your current password (current_password) to set a new one"
    wrong = await app.put(
        "/api/v1/users/alice/password", json={"password": SECRET, "current_password": "guess"}
    )
    assert wrong.status_code == 403 and message(wrong) == (
        "the current password is wrong; nothing changed"
    )

    changed = await app.put(
        "/api/v1/users/alice/password", json={"password": SECRET, "current_password": old}
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["sessions_ended"], body["app_sign_ins_revoked"], body["api_keys_kept"]) == (
        2,
        1,
        2,
    )
    assert "2 API key(s) are separate credentials and still work" in body["message"]

    # Every earlier sign-in is over; keys stay.
    assert (await browser.get("/ui/projects")).headers["location"].startswith("/ui/login")
    gone = await app.get("/api/v1/me")
    assert gone.status_code == 401 and "revoked" in gone.json()["detail"]
    refresh = await client.refresh(tokens["refresh_token"])
    assert refresh.status_code == 400 and refresh.json()["error"] == "invalid_grant"
    assert (await full_key.get("/api/v1/me")).status_code == 200
    async with httpx.AsyncClient(base_url=stack.base_url) as fresh:
        stale = await fresh.post("/ui/login", data={"name": "alice", "password": old})
        assert stale.status_code == 401

    # A one-time link (made by an admin from a full sign-in) ends them too.
    admin_key = await stack.http("root", roles=["space-admin"])
    refused = await admin_key.post("/api/v1/users/alice/password-link")
    assert refused.status_code == 403 and "with an API key" in message(refused)
    admin, _, _ = await signed_in_app(stack, "root")
    link = await admin.post("/api/v1/users/alice/password-link")
    assert link.status_code == 200, link.text
    token = link.json()["url"].split("token=", 1)[1]
    later = httpx.AsyncClient(base_url=stack.base_url)
    assert (
        await later.post("/ui/login", data={"name": "alice", "password": SECRET})
    ).status_code == 303
    async with httpx.AsyncClient(base_url=stack.base_url) as setup:
        done = await setup.post(
            "/ui/setup", data={"token": token, "password": SECRET + "!", "confirm": SECRET + "!"}
        )
        assert done.status_code == 303 and "intent_session" in done.cookies
    assert (await later.get("/ui/projects")).headers["location"].startswith("/ui/login")

    events = (await admin_key.get("/api/v1/audit", params={"subject": "alice"})).json()["events"]
    sets = [e for e in events if e["event"] == "password_set"]
    assert [e["outcome"] for e in sets].count("failed") == 1
    assert sets[0]["details"]["method"] == "link" and sets[0]["details"]["sessions_ended"] == 1
    assert SECRET not in str(events)


async def test_sessions_opened_with_an_api_key_authorize_no_apps(stack: IntentStack) -> None:
    client = await register(stack)  # its browser: ana, signed in with a password
    writer = await stack.http("ana")
    key = (await writer.post("/api/v1/keys", json={"name": "ro", "scopes": ["mcp:read"]})).json()
    params = client.authorize_params(pkce_pair()[1])
    reason = (
        "ana may not authorize apps with an API key (or a web session opened with one): sign "
        "in with your password or single sign-on and do it from there"
    )
    async with httpx.AsyncClient(base_url=stack.base_url) as robot:
        assert (await robot.post("/ui/login/key", data={"token": key["key"]})).status_code == 303
        consent = await robot.get("/oauth/authorize", params=params)
        assert consent.status_code == 403 and reason in consent.text
        pressed = await robot.post(
            "/oauth/authorize",
            data={
                **params,
                "csrf": await csrf_of(robot),
                "grant": ["mcp:read", "mcp:write"],
                "decision": "allow",
            },
        )
        assert pressed.status_code == 403 and reason in pressed.text
    async with stack.db.session() as session:
        assert await session.scalar(select(func.count()).select_from(OAuthCode)) == 0
    # The same person, signed in with a password, authorizes it.
    assert (await client.tokens(stack))["scope"] == "mcp:read mcp:write"


async def test_moving_a_project_widens_nobody_and_says_which_policies_change(
    stack: IntentStack,
) -> None:
    root = await stack.http("root", roles=["space-admin"])
    for name in ("prod", "playground"):
        assert (await root.post("/api/v1/spaces", json={"name": name})).status_code == 201
        guard = {"name": f"{name}-guard", "body": POLICY, "space": name}
        made = await root.post("/api/v1/policies", json={**guard, "labels": ["autoattach:*"]})
        assert made.status_code == 201, made.text
    writer = await root.get("/api/v1/roles")
    actions = next(r["actions"] for r in writer.json() if r["name"] == "space-writer")
    made = await root.post(
        "/api/v1/roles", json={"name": "mover", "actions": [*actions, "intent-project:move"]}
    )
    assert made.status_code == 201, made.text
    alice = await stack.http("alice", roles=[])
    for space, role in (("prod", "space-writer"), ("playground", "space-admin")):
        bound = await root.post(
            f"/api/v1/spaces/{space}/bindings", json={"role": role, "subject": "alice"}
        )
        assert bound.status_code == 201, bound.text
    assert (
        await root.post("/api/v1/projects", json={"name": "payments", "space": "prod"})
    ).status_code == 201

    out = await alice.patch("/api/v1/projects/payments", json={"space": "playground"})
    assert out.status_code == 403
    assert message(out).startswith(
        "alice may not move projects to other spaces in space prod: that needs "
        "intent-project:move there or in a space above it (role space-admin)"
    )
    bound = await root.post(
        "/api/v1/spaces/prod/bindings", json={"role": "mover", "subject": "alice"}
    )
    assert bound.status_code == 201, bound.text
    widening = await alice.patch("/api/v1/projects/payments", json={"space": "playground"})
    assert widening.status_code == 403
    assert message(widening).startswith(
        "alice may not move projects from space prod to space playground: there alice would "
        "hold intent-audit:read,"
    )
    assert "ask someone who holds that in space prod (a space admin) to move it" in message(
        widening
    )
    same = await alice.patch("/api/v1/projects/payments", json={"space": "prod", "labels": ["x"]})
    assert same.status_code == 200, same.text  # not a move
    env = await alice.put(
        "/api/v1/projects/payments/environment/AWS_ENDPOINT_URL", json={"value": "https://x"}
    )
    assert env.status_code == 403  # still governed by prod

    # The other way round gives up power: allowed, and history says what changes.
    assert (
        await alice.post("/api/v1/projects", json={"name": "toy", "space": "playground"})
    ).status_code == 201
    moved = await alice.patch("/api/v1/projects/toy", json={"space": "prod"})
    assert moved.status_code == 200, moved.text
    assert moved.json()["space"] == "prod"
    entries = (await alice.get("/api/v1/projects/toy/history")).json()["entries"]
    move = next(e for e in entries if e["operation"] == "move")
    assert (move["before"]["space"], move["after"]["space"], move["actor"]) == (
        "playground",
        "prod",
        "alice",
    )
    assert move["details"] == {
        "policies_stopped": ["playground-guard"],
        "policies_started": ["prod-guard"],
    }
    assert (await root.patch("/api/v1/projects/toy", json={"space": "playground"})).status_code == (
        200
    )


async def test_space_names_cannot_pass_for_ids(stack: IntentStack) -> None:
    root = await stack.http("root", roles=["space-admin"])
    team = await root.post("/api/v1/spaces", json={"name": "team"})
    assert team.status_code == 201, team.text
    team_id = team.json()["id"]
    for name in (team_id, team_id.lower()):
        refused = await root.post("/api/v1/spaces", json={"name": name, "parent": "team"})
        assert refused.status_code == 422
        assert message(refused) == (
            f"{name!r} looks like a space id (26 letters and digits); pick a name that does not"
        )
    browser = await stack.signed_in("root")
    page = await browser.post(
        "/ui/access/spaces", data={"name": team_id, "csrf": await csrf_of(browser)}
    )
    assert "looks%20like%20a%20space%20id" in page.headers["location"]

    # A space named so before this rule still loses to the id it imitates.
    async with stack.db.transaction() as session:
        session.add(Space(name=team_id, parent_id="root"))
    project = await root.post("/api/v1/projects", json={"name": "p", "space": team_id})
    assert project.status_code == 201, project.text
    assert project.json()["space"] == "team"
