"""Project TTL through the real pieces: a project that expires is emptied in dependency
order under its policies and archived; a policy may keep it. Real provider, moto.

One test, two projects expiring together (one wait): ``ephemeral`` is emptied after
its lock holder lets go, ``guarded`` keeps its resources because a policy denies the
deletes, after its holder's lock is forced at the end of the grace period.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from tests.api.mcp_client import mcp_client
from tests.changes.test_lifecycle import bucket_names, call
from tests.support.moto import MotoServer
from tests.support.stack import IntentStack, run_stack
from workflows.models import ttl_workflow_id
from workflows.ttl import ProjectTTLWorkflow

pytestmark = pytest.mark.slow

TTL = "2m"
GRACE = 20.0
DENY_DELETES = """package spacelift

deny contains "resources of guarded projects are not deleted by their TTL" if {
  input.resource.operation == "delete"
  input.actor.via == "system"
}
"""


@pytest_asyncio.fixture
async def ttl_stack(
    temporal_env: WorkflowEnvironment, tmp_path: Path, aws_settings: dict[str, Any]
) -> AsyncIterator[IntentStack]:
    async with run_stack(
        temporal_env, tmp_path, **aws_settings, ttl_grace_seconds=GRACE
    ) as running:
        yield running


def resources(name: str) -> list[dict[str, Any]]:
    """A bucket, its versioning and a parameter holding its ARN: both depend on it."""
    return [
        {
            "resource_id": "b",
            "resource_type": "aws_s3_bucket",
            "config": {"bucket": f"ttl-{name}"},
        },
        {
            "resource_id": "v",
            "resource_type": "aws_s3_bucket_versioning",
            "config": {"bucket": "${b.id}", "versioning_configuration": [{"status": "Enabled"}]},
        },
        {
            "resource_id": "arn",
            "resource_type": "aws_ssm_parameter",
            "config": {"name": f"/ttl/{name}/arn", "type": "String", "value": "${b.arn}"},
        },
    ]


async def make(stack: IntentStack, user: str, name: str) -> dict[str, Any]:
    async with mcp_client(stack.mcp_url, await stack.token(user)) as client:
        made = await call(client, "project-create", {"name": name, "ttl": TTL})
        assert made["expires_at"] is not None
        used = await call(client, "project-use", {"project": name})
        assert "WARNING" in used["message"] and "expires" in used["message"]
        created = await call(client, "lifecycle-resources-create", {"resources": resources(name)})
        assert created["status"] == "applied", created
        assert created["warnings"] and "expires" in created["warnings"][0]
        return made


async def ttl_stage(stack: IntentStack, project_id: str) -> str:
    handle = stack.client.get_workflow_handle_for(
        ProjectTTLWorkflow.run, ttl_workflow_id(project_id)
    )
    return (await handle.query(ProjectTTLWorkflow.status)).stage


async def until(predicate: Any, seconds: float, what: str) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not await predicate():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(1)


async def history(http: httpx.AsyncClient, project: str) -> list[dict[str, Any]]:
    page = await http.get(f"/api/v1/projects/{project}/history", params={"limit": 200})
    entries: list[dict[str, Any]] = page.json()["entries"]
    return entries


async def test_expired_projects_are_emptied_in_order_and_archived_unless_a_policy_denies(
    ttl_stack: IntentStack, moto_server: MotoServer
) -> None:
    author = await ttl_stack.http("paula", roles=["policy-author"])
    made = await author.post("/api/v1/policies", json={"name": "keep", "body": DENY_DELETES})
    assert made.status_code == 201, made.text
    ephemeral, guarded = await asyncio.gather(
        make(ttl_stack, "alice", "ephemeral"), make(ttl_stack, "bob", "guarded")
    )
    assert (await author.put("/api/v1/projects/guarded/policies/keep")).status_code == 200
    alice, bob = await ttl_stack.http("alice"), await ttl_stack.http("bob")

    # Extending is an action of its own; moving the expiry earlier is not.
    longer = await alice.put("/api/v1/projects/ephemeral/ttl", json={"ttl": "3h"})
    assert longer.status_code == 403 and "extend" in longer.json()["message"]
    assert (
        await alice.put("/api/v1/projects/ephemeral/ttl", json={"ttl": None})
    ).status_code == 403

    # At expiry both wait for their lock holders.
    await until(
        lambda: _stage_is(ttl_stack, ephemeral["id"], "waiting_for_lock"), 180, "ephemeral expiry"
    )
    assert {"ttl-a", "ttl-ephemeral"} & bucket_names(moto_server) == {"ttl-ephemeral"}
    assert (await alice.delete("/api/v1/projects/ephemeral/lock")).status_code == 200

    await until(lambda: _stage_is(ttl_stack, ephemeral["id"], "archived"), 120, "the archive")
    assert "ttl-ephemeral" not in bucket_names(moto_server)
    rows = await history(alice, "ephemeral")
    deletes = [
        e["resource_id"]
        for e in reversed(rows)
        if e["operation"] == "delete" and e["status"] == "applied"
    ]
    assert deletes[-1] == "b" and set(deletes) == {"b", "v", "arn"}  # dependents first
    assert {e["actor"] for e in rows if e["operation"] == "delete"} == {"project TTL"}
    assert any(e["operation"] == "ttl-warning" for e in rows)
    archived = (await alice.get("/api/v1/projects/ephemeral")).json()
    assert archived["archived_at"] is not None
    assert (await alice.get("/api/v1/projects/ephemeral/resources")).json()["resources"] == []
    refused = await alice.post("/api/v1/projects/ephemeral/lock")
    assert refused.status_code == 409 and "archived" in refused.json()["message"]

    # Bob never let go: after the grace period his lock is taken, and the policy keeps
    # the project whole.
    await until(lambda: _stage_is(ttl_stack, guarded["id"], "kept"), 120, "the guarded outcome")
    rows = await history(bob, "guarded")
    assert any(e["subject"] == "lock" and e["operation"] == "force_release" for e in rows)
    outcome = next(e for e in rows if e["operation"] == "ttl-cleanup")
    assert outcome["status"] == "denied"
    denied = [e for e in rows if e["operation"] == "delete" and e["status"] == "denied"]
    assert denied and "not deleted by their TTL" in denied[0]["reasons"][0]
    assert "ttl-guarded" in bucket_names(moto_server)
    kept = (await bob.get("/api/v1/projects/guarded")).json()
    assert kept["archived_at"] is None and kept["expires_at"] is None
    assert len((await bob.get("/api/v1/projects/guarded/resources")).json()["resources"]) == 3


async def _stage_is(stack: IntentStack, project_id: str, stage: str) -> bool:
    return await ttl_stage(stack, project_id) == stage
