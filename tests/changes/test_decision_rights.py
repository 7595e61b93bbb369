"""Who may act on a failed change, through the real server, workflow and provider.

A read-only credential decides nothing, not even on its own change (REST, and the web
UI where the workflow's validator refuses it); fixing a failed operation's
configuration on retry needs that operation's resource action, so an operator may
retry but not rewrite; whoever patches is named in history.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.changes.test_references_and_failures import POLICY_NO_RESOURCE, POLICY_OK, settled
from tests.support.stack import IntentStack

pytestmark = pytest.mark.slow


async def _failed_change(http: httpx.AsyncClient, project: str) -> str:
    assert (await http.post("/api/v1/projects", json={"name": project})).status_code == 201
    assert (await http.post(f"/api/v1/projects/{project}/lock")).status_code == 200
    policy = {"name": f"{project}-reader", "policy": POLICY_NO_RESOURCE}
    made = await http.post(
        f"/api/v1/projects/{project}/changes",
        json={
            "operations": [
                {
                    "kind": "create",
                    "resource_id": "reader",
                    "resource_type": "aws_iam_policy",
                    "config": policy,
                }
            ],
            "wait_seconds": 60,
        },
    )
    assert made.status_code == 202, made.text
    change_id: str = made.json()["change_id"]
    assert (await settled(http, change_id))["status"] == "failed"
    return change_id


async def _patches(http: httpx.AsyncClient, project: str, change_id: str) -> list[dict[str, Any]]:
    entries = (
        await http.get(f"/api/v1/projects/{project}/history", params={"change_id": change_id})
    ).json()["entries"]
    return [e for e in entries if (e["subject"], e["operation"]) == ("change", "patch")]


async def test_read_only_credentials_and_operators_do_not_rewrite_failed_changes(
    aws_stack: IntentStack,
) -> None:
    alice = await aws_stack.http("alice")
    change_id = await _failed_change(alice, "rights")
    made = await alice.post("/api/v1/keys", json={"name": "ro", "scopes": ["mcp:read"]})
    read_only_key = made.json()["key"]
    read_only = httpx.AsyncClient(
        base_url=aws_stack.base_url,
        headers={"Authorization": f"Bearer {read_only_key}"},
        timeout=60,
    )
    fix = {"config_patches": {"reader": {"policy": POLICY_OK}}}
    for verb, body in (("retry", fix), ("retry", {}), ("abandon", {})):
        refused = await read_only.post(f"/api/v1/changes/{change_id}/{verb}", json=body)
        assert refused.status_code == 403, refused.text
        assert refused.json()["message"] == (
            f"alice's credential is read-only (mcp:read): it may not {verb} change {change_id}; "
            "sign in again granting mcp:write, or use a key that has it"
        )
    async with httpx.AsyncClient(base_url=aws_stack.base_url, timeout=60) as robot:
        assert (await robot.post("/ui/login/key", data={"token": read_only_key})).status_code == 303
        page = await robot.get(f"/ui/changes/{change_id}")
        csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
        assert csrf is not None
        pressed = await robot.post(f"/ui/changes/{change_id}/retry", data={"csrf": csrf.group(1)})
        assert pressed.status_code == 403
        assert "alice&#39;s credential is read-only (mcp:read): it may not retry" in pressed.text

    oscar = await aws_stack.http("oscar", roles=["operator"])
    rewrite = await oscar.post(f"/api/v1/changes/{change_id}/retry", json=fix)
    assert rewrite.status_code == 403
    assert rewrite.json()["message"].startswith(
        "oscar may not create resources in space root: that needs intent-resource:create"
    )
    assert await _patches(alice, "rights", change_id) == []  # nothing was stored
    assert (await settled(alice, change_id))["status"] == "failed"

    # Someone who may create resources there fixes it; history names them.
    root = await aws_stack.http("root", roles=["space-admin"])
    fixed = await root.post(f"/api/v1/changes/{change_id}/retry", json=fix)
    assert fixed.status_code == 200, fixed.text
    assert (await settled(alice, change_id))["status"] == "applied"
    [patch] = await _patches(alice, "rights", change_id)
    assert (patch["actor"], patch["resource_id"]) == ("root", "reader")
    assert patch["details"] == {
        "requested_by": "alice",
        "patched_by": "root",
        "attributes": ["policy"],
    }

    # An operator may still retry (without rewriting) someone else's failed change.
    other = await _failed_change(alice, "rights-2")
    retried = await oscar.post(f"/api/v1/changes/{other}/retry", json={})
    assert retried.status_code == 200, retried.text
    assert (await settled(alice, other))["status"] == "failed"  # the same config fails again
