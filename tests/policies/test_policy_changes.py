"""Intent policies on real changes: real Temporal, the real AWS provider, moto."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner

from cli import app as cli_app
from policies import library
from store import history as store_history
from store import policies as store_policies
from store.models import PolicySample
from store.types import utcnow
from tests.api.mcp_client import mcp_client, text_of
from tests.changes.test_lifecycle import bucket_names, call
from tests.changes.test_references_and_failures import settled
from tests.support.moto import MotoServer
from tests.support.stack import IntentStack, run_stack

pytestmark = pytest.mark.slow

ALLOW_INSTANCES = library.read("only_s3_buckets").replace(
    'permitted_types := {"aws_s3_bucket"}', 'permitted_types := {"aws_s3_bucket", "aws_instance"}'
)
UNDECIDED = """package spacelift

# Says neither allow nor deny: every operation goes to human review.
sample := true
"""
# Quick on the validation's example create, endless (for a policy) on real work.
RUNAWAY = """package spacelift

deny contains msg if {
    input.resource.resource_id != "example"
    total := sum([k | i := numbers.range(1, 4000)[_]; j := numbers.range(1, 4000)[_]; k := i * j])
    total < 0
    msg := "unreachable"
}
"""


def instance_ids(moto: MotoServer) -> list[str]:
    reservations = moto.client("ec2").describe_instances()["Reservations"]
    return [
        i["InstanceId"]
        for r in reservations
        for i in r["Instances"]
        if i["State"]["Name"] != "terminated"
    ]


async def test_s3_only_policy_denies_ec2_until_updated_over_mcp(
    aws_stack: IntentStack, moto_server: MotoServer
) -> None:
    admin = await aws_stack.token("root", roles=["space-admin"])
    alice = await aws_stack.token("alice")
    ami = moto_server.client("ec2").describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    before = set(instance_ids(moto_server))
    async with mcp_client(aws_stack.mcp_url, admin) as root:
        await call(root, "project-create", {"name": "guarded"})
        created = await call(
            root,
            "policy-create",
            {
                "name": "only-s3",
                "body": library.read("only_s3_buckets"),
                "description": "Only S3 buckets",
            },
        )
        assert created["name"] == "only-s3"
        attached = await call(root, "policy-attach", {"policy": "only-s3", "project": "guarded"})
        assert attached["attached_projects"] == ["guarded"]

    async with mcp_client(aws_stack.mcp_url, alice) as client:
        await call(client, "project-use", {"project": "guarded"})
        bucket = await call(
            client,
            "lifecycle-resources-create",
            {
                "resources": [
                    {
                        "resource_id": "files",
                        "resource_type": "aws_s3_bucket",
                        "config": {"bucket": "guarded-files"},
                    }
                ]
            },
        )
        assert bucket["status"] == "applied", bucket
        assert bucket["operations"][0]["policy"] == "allowed"

        server = {
            "resource_id": "web",
            "resource_type": "aws_instance",
            "config": {"ami": ami, "instance_type": "t3.micro"},
        }
        denied = await call(client, "lifecycle-resources-create", {"resources": [server]})
        assert denied["status"] == "denied", denied
        reason = "web is of type aws_instance; this project may only manage S3 buckets"
        assert any(reason in r for r in denied["operations"][0]["reasons"])
        assert reason in denied["message"]
        assert set(instance_ids(moto_server)) == before  # nothing applied
        history = await call(client, "history-list", {"resource_id": "web"})
        row = history["entries"][0]
        assert row["status"] == "denied" and any(reason in r for r in row["reasons"])

        # alice writes resources, not policies.
        refused = await client.call_tool(
            "policy-update", {"policy": "only-s3", "body": ALLOW_INSTANCES}
        )
        assert refused.is_error and "policy-author" in text_of(refused)

    async with mcp_client(aws_stack.mcp_url, admin) as root:
        updated = await call(root, "policy-update", {"policy": "only-s3", "body": ALLOW_INSTANCES})
        assert "aws_instance" in updated["body"]

    async with mcp_client(aws_stack.mcp_url, alice) as client:
        again = await call(client, "lifecycle-resources-create", {"resources": [server]})
        assert again["status"] == "applied", again
        assert len(set(instance_ids(moto_server)) - before) == 1

    http = await aws_stack.http("root", roles=["space-admin"])
    policy_history = (
        await http.get("/api/v1/projects/guarded/history", params={"limit": 100})
    ).json()["entries"]
    attach_row = next(e for e in policy_history if e["subject"] == "policy")
    assert attach_row["operation"] == "attach" and attach_row["actor"] == "root"


async def test_undecided_policy_sends_changes_to_review(
    aws_stack: IntentStack, moto_server: MotoServer
) -> None:
    root = await aws_stack.http("root", roles=["space-admin"])
    # A reviewer who also changes resources (her own changes still need someone else).
    reviewer = await aws_stack.http("rita", roles=["reviewer", "space-writer"])
    alice_http = await aws_stack.http("alice")
    await root.post("/api/v1/projects", json={"name": "reviewed"})
    created = await root.post("/api/v1/policies", json={"name": "undecided", "body": UNDECIDED})
    assert created.status_code == 201, created.text
    await root.put("/api/v1/projects/reviewed/policies/undecided")

    token = await aws_stack.token("alice")
    async with mcp_client(aws_stack.mcp_url, token) as client:
        await call(client, "project-use", {"project": "reviewed"})
        waiting = await call(
            client,
            "lifecycle-resources-create",
            {
                "resources": [
                    {
                        "resource_id": "r1",
                        "resource_type": "aws_s3_bucket",
                        "config": {"bucket": "reviewed-one"},
                    }
                ]
            },
        )
        assert waiting["status"] == "awaiting_confirmation", waiting
        assert waiting["operations"][0]["status"] == "pending_review"
        assert "reviewer" in waiting["next_steps"]
        assert "reviewed-one" not in bucket_names(moto_server)
        # The requester cannot approve their own review.
        self_approval = await client.call_tool(
            "change-confirm", {"change_id": waiting["change_id"]}
        )
        assert self_approval.is_error and "reviewer" in text_of(self_approval)

        approved = await reviewer.post(
            f"/api/v1/changes/{waiting['change_id']}/confirm", json={"comment": "looks fine"}
        )
        assert approved.status_code == 200, approved.text
        assert (await settled(alice_http, waiting["change_id"]))["status"] == "applied"
        assert "reviewed-one" in bucket_names(moto_server)

        second = await call(
            client,
            "lifecycle-resources-create",
            {
                "resources": [
                    {
                        "resource_id": "r2",
                        "resource_type": "aws_s3_bucket",
                        "config": {"bucket": "reviewed-two"},
                    }
                ]
            },
        )
        rejected = await reviewer.post(
            f"/api/v1/changes/{second['change_id']}/reject", json={"comment": "not now"}
        )
        assert rejected.status_code == 200
        assert rejected.json()["status"] == "rejected"
        assert "reviewed-two" not in bucket_names(moto_server)
        rows = await call(client, "history-list", {"resource_id": "r2"})
        statuses = [(e["status"], e["actor"]) for e in rows["entries"]]
        assert ("rejected", "alice") in statuses and ("pending", "alice") in statuses
        decided = next(e for e in rows["entries"] if e["status"] == "rejected")
        assert decided["details"]["decided_by"] == "rita" and decided["reasons"] == ["not now"]

    # A reviewer's own change still needs someone else; its requester may withdraw it.
    await alice_http.delete("/api/v1/projects/reviewed/lock")
    await reviewer.post("/api/v1/projects/reviewed/lock")
    own = await reviewer.post(
        "/api/v1/projects/reviewed/changes",
        json={
            "operations": [
                {
                    "kind": "create",
                    "resource_id": "r3",
                    "resource_type": "aws_s3_bucket",
                    "config": {"bucket": "reviewed-three"},
                }
            ],
            "wait_seconds": 60,
        },
    )
    own_id = own.json()["change_id"]
    assert own.json()["status"] == "awaiting_confirmation"
    self_review = await reviewer.post(f"/api/v1/changes/{own_id}/confirm")
    assert self_review.status_code == 403 and "their own change" in self_review.json()["message"]
    withdrawn = await reviewer.post(f"/api/v1/changes/{own_id}/reject", json={"comment": "later"})
    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "rejected"

    # The policy kept its evaluations (sample = true).
    samples = (await root.get("/api/v1/policies/undecided/samples")).json()
    assert [s["input"]["resource"]["resource_id"] for s in samples] == ["r3", "r2", "r1"]
    assert samples[0]["result"]["deny"] == [] and samples[0]["result"]["sample"] is True
    simulated = await root.post(
        "/api/v1/policies/undecided/simulate",
        json={"sample_id": samples[0]["id"], "body": library.read("only_s3_buckets")},
    )
    assert simulated.json()["decision"] == "allowed"


async def test_runaway_policy_times_out_into_a_deny(
    temporal_env: WorkflowEnvironment,
    tmp_path: Path,
    moto_server: MotoServer,
    aws_settings: dict[str, Any],
) -> None:
    overrides = dict(aws_settings)
    async with run_stack(temporal_env, tmp_path, policy_timeout_seconds=0.5, **overrides) as stack:
        root = await stack.http("root", roles=["space-admin"])
        await root.post("/api/v1/projects", json={"name": "slow"})
        created = await root.post("/api/v1/policies", json={"name": "runaway", "body": RUNAWAY})
        # Validation runs the policy once too: a runaway is still a valid policy body.
        assert created.status_code == 201, created.text
        await root.put("/api/v1/projects/slow/policies/runaway")
        await root.post("/api/v1/projects/slow/lock")
        response = await root.post(
            "/api/v1/projects/slow/changes",
            json={
                "operations": [
                    {
                        "kind": "create",
                        "resource_id": "b",
                        "resource_type": "aws_s3_bucket",
                        "config": {"bucket": "slow-bucket"},
                    }
                ]
            },
        )
        result = await settled(root, response.json()["change_id"])
        assert result["status"] == "denied", result
        assert "exceeded its 0.5s evaluation limit" in result["message"]
        assert "slow-bucket" not in bucket_names(moto_server)


async def test_management_validation_autoattach_and_history(stack: IntentStack) -> None:
    root = await stack.http("root", roles=["space-admin"])
    author = await stack.http("paula", roles=["policy-author"])
    alice = await stack.http("alice")

    bad = await author.post(
        "/api/v1/policies",
        json={
            "name": "broken",
            "body": "package spacelift\n\ndeny contains msg if {\n  msg := \n}\n",
        },
    )
    assert bad.status_code == 422
    problem = bad.json()["details"]["problems"][0]
    assert (problem["line"], problem["column"]) == (4, 7), problem
    assert "line" in bad.json()["message"] and "column" in bad.json()["message"]
    assert (
        await alice.post("/api/v1/policies", json={"name": "x", "body": UNDECIDED})
    ).status_code == 403

    for name, labels in (("prod", ["prod"]), ("dev", ["dev"])):
        await root.post("/api/v1/projects", json={"name": name, "labels": labels})
    await author.post(
        "/api/v1/policies",
        json={
            "name": "prod-guard",
            "body": library.read("required_tags"),
            "labels": ["autoattach:prod"],
        },
    )
    await author.post(
        "/api/v1/policies",
        json={
            "name": "everywhere",
            "body": library.read("no_public_s3"),
            "labels": ["autoattach:*"],
        },
    )
    prod = {p["name"]: p["how"] for p in (await root.get("/api/v1/projects/prod/policies")).json()}
    dev = {p["name"]: p["how"] for p in (await root.get("/api/v1/projects/dev/policies")).json()}
    assert prod == {"prod-guard": "autoattach:prod", "everywhere": "autoattach:*"}
    assert dev == {"everywhere": "autoattach:*"}
    detach = await author.delete("/api/v1/projects/dev/policies/everywhere")
    assert detach.status_code == 404 and "autoattach" in detach.json()["message"]

    changed = await author.patch(
        "/api/v1/policies/prod-guard", json={"body": UNDECIDED, "labels": ["autoattach:dev"]}
    )
    assert changed.status_code == 200
    now = {p["name"] for p in (await root.get("/api/v1/projects/dev/policies")).json()}
    assert now == {"prod-guard", "everywhere"}
    # Every policy change is in history, with its actor and a diff.
    async with stack.db.session() as session:
        rows = await store_history.list_history(session, limit=20)
    update = next(r for r in rows if r.subject == "policy" and r.operation == "update")
    assert update.actor_name == "paula"
    assert "+sample := true" in update.details["diff"]
    assert update.details["labels"] == {"before": ["autoattach:prod"], "after": ["autoattach:dev"]}


async def test_sample_ring_buffer_keeps_newest_100_within_7_days(stack: IntentStack) -> None:
    root = await stack.http("root", roles=["space-admin"])
    created = (
        await root.post("/api/v1/policies", json={"name": "noisy", "body": UNDECIDED})
    ).json()
    async with stack.db.transaction() as session:
        old = PolicySample(
            policy_id=created["id"],
            input={"n": -1},
            result={},
            created_at=utcnow() - timedelta(days=8),
        )
        session.add(old)
    for n in range(105):
        async with stack.db.transaction() as session:
            await store_policies.add_sample(
                session, created["id"], input={"n": n}, result={}, project_id=None, change_id=None
            )
    async with stack.db.session() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(PolicySample)
            .where(PolicySample.policy_id == created["id"])
        )
        kept = await store_policies.list_samples(session, created["id"], limit=100)
    assert count == 100
    assert [s.input["n"] for s in kept[:3]] == [104, 103, 102]
    assert min(s.input["n"] for s in kept) == 5


async def test_policy_cli_manages_policies(stack: IntentStack, tmp_path: Path) -> None:
    token = await stack.token("root", roles=["space-admin"])
    await (await stack.http("root")).post("/api/v1/projects", json={"name": "clip"})
    rego = tmp_path / "only_s3.rego"
    rego.write_text(library.read("only_s3_buckets"))
    env = {"INTENT_URL": stack.base_url, "INTENT_TOKEN": token}

    async def intent(*args: str) -> Any:
        return await asyncio.to_thread(CliRunner().invoke, cli_app, ["policy", *args], env=env)

    created = await intent("create", "cli-s3", str(rego), "--description", "from the cli")
    assert created.exit_code == 0, created.output
    assert (await intent("attach", "cli-s3", "clip")).exit_code == 0
    listed = await intent("list")
    assert "cli-s3" in listed.output and "clip" in listed.output
    broken = tmp_path / "broken.rego"
    broken.write_text("package spacelift\n\nallow contains x if {\n")
    failed = await intent("update", "cli-s3", str(broken))
    assert failed.exit_code == 1 and "line" in failed.output


async def test_allowed_regions_reads_the_projects_provider_configuration(
    aws_stack: IntentStack, moto_server: MotoServer
) -> None:
    root = await aws_stack.http("root", roles=["space-admin"])
    await root.post("/api/v1/projects", json={"name": "regional"})
    await root.post(
        "/api/v1/policies",
        json={"name": "regions", "body": library.read("allowed_regions")},
    )
    await root.post(
        "/api/v1/policies", json={"name": "baseline", "body": library.read("deletes_need_review")}
    )
    for policy in ("regions", "baseline"):
        await root.put(f"/api/v1/projects/regional/policies/{policy}")
    await root.post("/api/v1/projects/regional/lock")

    async def create(name: str) -> dict[str, Any]:
        response = await root.post(
            "/api/v1/projects/regional/changes",
            json={
                "operations": [
                    {
                        "kind": "create",
                        "resource_id": name,
                        "resource_type": "aws_s3_bucket",
                        "config": {"bucket": name},
                    }
                ],
                "wait_seconds": 60,
            },
        )
        return dict(response.json())

    # The sandbox integration defaults to us-east-1, outside the library's defaults.
    denied = await create("regional-one")
    assert denied["status"] == "denied", denied
    assert "us-east-1" in denied["message"]
    moved = await root.put(
        "/api/v1/projects/regional/integrations/sandbox",
        json={"region": "eu-west-1", "read": True, "write": True},
    )
    assert moved.status_code == 200, moved.text
    allowed = await create("regional-two")
    assert allowed["status"] == "applied", allowed
    location = moto_server.client("s3").get_bucket_location(Bucket="regional-two")
    assert location["LocationConstraint"] == "eu-west-1"
