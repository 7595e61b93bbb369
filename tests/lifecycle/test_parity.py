"""Parity tools: project-describe, project-current, policy-delete, policy-input-schema.

Through the real MCP client, REST and the CLI against a running stack.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from temporalio.service import RPCError
from typer.testing import CliRunner

from cli import app
from policies.input import PolicyInput
from tests.api.mcp_client import mcp_client, text_of
from tests.changes.test_lifecycle import call
from tests.support.stack import IntentStack

DENY_NOTHING = 'package spacelift\n\ndeny contains msg if {\n  false\n  msg := "never"\n}\n'


async def test_describe_and_current_project(stack: IntentStack) -> None:
    author = await stack.http("paula", roles=["policy-author"])
    created = await author.post(
        "/api/v1/policies", json={"name": "quiet", "body": DENY_NOTHING, "labels": []}
    )
    assert created.status_code == 201, created.text
    async with mcp_client(stack.mcp_url, await stack.token("alice")) as client:
        none = await call(client, "project-current", {})
        assert none["project"] is None and "project-use" in none["message"]

        await call(
            client,
            "project-create",
            {"name": "described", "description": "for the demo", "labels": ["team-web"]},
        )
        assert (await author.put("/api/v1/projects/described/policies/quiet")).status_code == 200
        await call(client, "project-use", {"project": "described"})

        described = await call(client, "project-describe", {"project": "described"})
        assert described["project"]["lock"]["holder"] == "alice"
        assert described["project"]["labels"] == ["team-web"]
        assert described["project"]["description"] == "for the demo"
        assert described["created_by"] == "alice"
        assert [(p["name"], p["how"]) for p in described["policies"]] == [("quiet", "attached")]
        assert described["counts"]["resources"] == 0
        assert described["counts"]["changes_in_flight"] == []

        current = await call(client, "project-current", {})
        assert current["project"]["project"]["name"] == "described"
        assert "described" in current["message"]

    # The same over REST and the CLI.
    alice = await stack.http("alice")
    body = (await alice.get("/api/v1/me/project")).json()
    assert body["project"]["project"]["name"] == "described"
    env = {"INTENT_URL": stack.base_url, "INTENT_TOKEN": await stack.token("alice")}
    shown = await asyncio.to_thread(
        CliRunner().invoke, app, ["projects", "describe", "described"], env=env
    )
    assert shown.exit_code == 0, shown.output
    assert "locked by alice" in shown.output and "policy quiet (attached)" in shown.output


async def test_policy_delete_is_refused_while_it_governs_a_project(stack: IntentStack) -> None:
    author = await stack.http("paula", roles=["policy-author"])
    alice = await stack.http("alice")
    await alice.post("/api/v1/projects", json={"name": "guarded", "labels": ["prod"]})
    for name, labels in (("attached-one", []), ("by-label", ["autoattach:prod"])):
        made = await author.post(
            "/api/v1/policies", json={"name": name, "body": DENY_NOTHING, "labels": labels}
        )
        assert made.status_code == 201, made.text
    await author.put("/api/v1/projects/guarded/policies/attached-one")

    async with mcp_client(stack.mcp_url, await stack.token("paula", ["policy-author"])) as client:
        refused = await client.call_tool("policy-delete", {"policy": "attached-one"})
        assert refused.is_error
        assert "guarded" in text_of(refused) and "policy-detach" in text_of(refused)
        refused = await client.call_tool("policy-delete", {"policy": "by-label"})
        assert refused.is_error and "autoattach:prod" not in text_of(refused)
        assert "['prod']" in text_of(refused) and "policy-update" in text_of(refused)

        await call(client, "policy-detach", {"policy": "attached-one", "project": "guarded"})
        assert (await call(client, "policy-delete", {"policy": "attached-one"})) == {
            "deleted": "attached-one"
        }
    # Over REST: 409 while it governs, 204 once it does not.
    assert (await author.delete("/api/v1/policies/by-label")).status_code == 409
    patched = await author.patch("/api/v1/policies/by-label", json={"labels": []})
    assert patched.status_code == 200, patched.text
    assert (await author.delete("/api/v1/policies/by-label")).status_code == 204
    listed = (await author.get("/api/v1/policies")).json()["policies"]
    assert not {"attached-one", "by-label"} & {p["name"] for p in listed}
    history = (await alice.get("/api/v1/projects/guarded/history")).json()["entries"]
    assert ("policy", "detach") in {(e["subject"], e["operation"]) for e in history}


async def test_policy_input_schema_is_the_contract(stack: IntentStack) -> None:
    async with mcp_client(stack.mcp_url, await stack.token("alice")) as client:
        schema = await call(client, "policy-input-schema", {})
    assert set(schema["input_schema"]["properties"]) == {
        "resource",
        "project",
        "actor",
        "request",
        "integration",
    }
    assert set(schema["rules"]) == {"deny", "allow", "sample"}
    # The example is a valid input, and it is what the worker's own model produces.
    assert PolicyInput.model_validate(schema["example"]) == PolicyInput.example()
    rest = (await (await stack.http("alice")).get("/api/v1/policies/input-schema")).json()
    assert rest == schema
    printed = await asyncio.to_thread(
        CliRunner().invoke, app, ["policy", "input-schema", "--example"]
    )
    assert printed.exit_code == 0 and json.loads(printed.output) == schema["example"]


async def test_project_update_and_delete(stack: IntentStack) -> None:
    from workflows.models import ttl_workflow_id
    from workflows.ttl import ProjectTTLWorkflow

    async with mcp_client(stack.mcp_url, await stack.token("alice")) as client:
        made = await call(client, "project-create", {"name": "changing"})
        updated = await call(
            client,
            "project-update",
            {
                "project": "changing",
                "description": "now described",
                "labels": ["qa"],
                "ttl": "7d",
                "drift_interval_seconds": 600,
            },
        )
        assert updated["description"] == "now described" and updated["labels"] == ["qa"]
        assert updated["expires_at"] is not None and updated["drift_interval_seconds"] == 600
        # Moving the expiry earlier is an update; later, or off, is an extension.
        earlier = await call(client, "project-update", {"project": "changing", "ttl": "2d"})
        assert earlier["expires_at"] < updated["expires_at"]
        refused = await client.call_tool("project-update", {"project": "changing", "ttl": "off"})
        assert refused.is_error and "intent-project:extend-ttl" in text_of(refused)
        shorter = await client.call_tool("project-update", {"project": "changing", "ttl": "1d"})
        assert not shorter.is_error
        async with mcp_client(stack.mcp_url, await stack.token("adm", ["space-admin"])) as admin:
            past_max = await admin.call_tool(
                "project-update", {"project": "changing", "ttl": "400d"}
            )
            assert past_max.is_error and "INTENT_PROJECT_MAX_TTL" in text_of(past_max)

        schedule = stack.client.get_schedule_handle(f"drift-{made['id']}")
        assert (await schedule.describe()).schedule.spec.intervals[0].every.total_seconds() == 600
        clock = stack.client.get_workflow_handle_for(
            ProjectTTLWorkflow.run, ttl_workflow_id(made["id"])
        )
        assert (await clock.query(ProjectTTLWorkflow.status)).stage == "waiting"

        refused = await client.call_tool("project-delete", {"project": "changing"})
        assert refused.is_error and "intent-project:delete" in text_of(refused)
        async with mcp_client(stack.mcp_url, await stack.token("adm", ["space-admin"])) as admin:
            deleted = await call(admin, "project-delete", {"project": "changing"})
        assert deleted["deleted"] is True
    # Its clocks stop with it.
    assert (await clock.result()).stage == "cancelled"
    with pytest.raises(RPCError):
        await schedule.describe()
    reader = await stack.http("root-admin", roles=["space-admin"])
    assert (await reader.get("/api/v1/projects/changing")).status_code == 404


async def test_workflows_started_by_hand_on_temporal_do_nothing(stack: IntentStack) -> None:
    """Someone on Temporal's port can start intent's workflows, but an export or a
    discovery needs the server's signature, a TTL clock follows the database, and a
    drift check runs only for a project with a drift schedule."""
    from temporalio.client import WorkflowFailureError

    from workflows.drift import DriftCheckWorkflow
    from workflows.lookup import ProjectExportWorkflow, ResourceDiscoveryWorkflow
    from workflows.models import DiscoveryInput, DriftCheckInput, ExportInput, TtlInput
    from workflows.ttl import ProjectTTLWorkflow

    alice = await stack.http("alice")
    made = (await alice.post("/api/v1/projects", json={"name": "by-hand"})).json()
    queue = stack.settings.temporal_task_queue
    with pytest.raises(WorkflowFailureError) as exported:
        await stack.client.execute_workflow(
            ProjectExportWorkflow.run,
            ExportInput(project_id=made["id"], project_name="by-hand"),
            id="forged-export",
            task_queue=queue,
        )
    with pytest.raises(WorkflowFailureError) as discovered:
        await stack.client.execute_workflow(
            ResourceDiscoveryWorkflow.run,
            DiscoveryInput(project_id=made["id"], resource_type="aws_ssm_parameter"),
            id="forged-discovery",
            task_queue=queue,
        )
    for failed in (exported, discovered):
        cause = failed.value.cause
        assert cause is not None and "not started by intent" in str(cause.__cause__ or cause)

    from datetime import UTC, datetime

    clock = await stack.client.execute_workflow(
        ProjectTTLWorkflow.run,
        TtlInput(project_id=made["id"], project_name="by-hand", expires_at=datetime.now(UTC)),
        id="forged-ttl",
        task_queue=queue,
    )
    assert clock.stage == "cancelled"  # the database says the project has no TTL
    report = await stack.client.execute_workflow(
        DriftCheckWorkflow.run,
        DriftCheckInput(project_id=made["id"]),
        id="forged-drift",
        task_queue=queue,
    )
    assert report.checked == 0
    history = (await alice.get("/api/v1/projects/by-hand/history")).json()["entries"]
    assert [e["operation"] for e in history] == ["create"]
