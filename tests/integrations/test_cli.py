"""``intent integrations`` against a running stack's REST API: an admin creates an AWS
integration and reads the trust policy its roles need; a member attaches it."""

from __future__ import annotations

import asyncio
import json

from typer.testing import CliRunner

from cli import app
from tests.support.stack import IntentStack

ROLE = "arn:aws:iam::210987654321:role/intent-writer"


async def intent(stack: IntentStack, token: str, *args: str, ok: bool = True) -> str:
    """Run the CLI in a thread: the stack's server lives on this test's event loop."""
    env = {"INTENT_URL": stack.base_url, "INTENT_TOKEN": token}
    result = await asyncio.to_thread(CliRunner().invoke, app, list(args), env=env)
    assert (result.exit_code == 0) is ok, result.output
    return result.output


async def test_integrations_from_the_cli(stack: IntentStack) -> None:
    admin = await stack.token("admin", ["space-admin"])
    member = await stack.token("member")
    made = await intent(
        stack, admin, "integrations", "create", "acme", "--role-arn", ROLE, "--region", "eu-west-1"
    )
    assert "acme  [aws]  space root" in made and "account_id: 210987654321" in made
    shown = json.loads(await intent(stack, admin, "integrations", "show", "acme", "--json"))
    external_id = shown["settings"]["external_id"]
    statement = shown["settings"]["trust_policy"]["Statement"][0]
    assert statement["Condition"]["StringEquals"]["sts:ExternalId"] == external_id
    assert external_id in await intent(stack, admin, "integrations", "show", "acme")

    # A member may see and attach it, not change it; attaching needs the project's lock.
    assert "acme" in await intent(stack, member, "integrations", "list")
    refused = await intent(
        stack, member, "integrations", "update", "acme", "--region", "us-east-1", ok=False
    )
    assert "403" in refused and "intent-integration:manage" in refused
    http = await stack.http("member")
    assert (await http.post("/api/v1/projects", json={"name": "web"})).status_code == 201
    unlocked = await intent(
        stack, member, "integrations", "attach", "web", "acme", "--write", ok=False
    )
    assert "needs its lock" in unlocked and "project-use web" in unlocked
    assert (await http.post("/api/v1/projects/web/lock")).status_code == 200
    attached = await intent(stack, member, "integrations", "attach", "web", "acme", "--write")
    assert "attached acme to web: eu-west-1, Read + Write" in attached
    listing = await intent(stack, member, "integrations", "attached", "web")
    assert "hashicorp/aws" in listing and "Read + Write" in listing

    # The admin rotates the external id; an integration in use cannot be deleted.
    rotated = json.loads(
        await intent(
            stack, admin, "integrations", "update", "acme", "--rotate-external-id", "--json"
        )
    )
    assert rotated["settings"]["external_id"] not in (external_id, None)
    busy = await intent(stack, admin, "integrations", "delete", "acme", ok=False)
    assert "409" in busy and "detach it from them first" in busy and "web" in busy
    await intent(stack, member, "integrations", "detach", "web", "acme")
    assert "no integration attached" in await intent(
        stack, member, "integrations", "attached", "web"
    )
    await intent(stack, admin, "integrations", "delete", "acme")
    assert "no integrations" in await intent(stack, admin, "integrations", "list")


async def test_moving_a_project_out_of_an_integrations_space_detaches_it(
    stack: IntentStack,
) -> None:
    admin = await stack.http("admin", ["space-admin"])
    assert (await admin.post("/api/v1/spaces", json={"name": "team"})).status_code == 201
    made = await admin.post(
        "/api/v1/integrations",
        json={"name": "team-aws", "space": "team", "settings": {"role_arn": ROLE}},
    )
    assert made.status_code == 201, made.text
    assert (
        await admin.post("/api/v1/projects", json={"name": "moving", "space": "team"})
    ).status_code == 201
    attached = await admin.put("/api/v1/projects/moving/integrations/team-aws", json={})
    assert attached.status_code == 200, attached.text
    moved = await admin.patch("/api/v1/projects/moving", json={"space": "root"})
    assert moved.status_code == 200, moved.text
    assert (await admin.get("/api/v1/projects/moving/integrations")).json() == []
    history = (await admin.get("/api/v1/projects/moving/history")).json()["entries"]
    move = next(e for e in history if e["operation"] == "move")
    assert move["details"]["integrations_detached"] == ["team-aws"]
    # An integration serves its own space and below: not the root.
    refused = await admin.put("/api/v1/projects/moving/integrations/team-aws", json={})
    assert refused.status_code == 422 and "not project moving's space" in refused.text
