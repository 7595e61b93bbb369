"""The rest of the MCP surface: provider lookups, data sources, state, dependencies,
environment and integrations, progress notifications."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.api.mcp_client import mcp_client, text_of
from tests.changes.test_lifecycle import bucket_names, call, start_project
from tests.support.moto import MotoServer
from tests.support.stack import IntentStack

pytestmark = pytest.mark.slow


async def test_provider_lookups_and_data_sources(
    aws_stack: IntentStack, moto_server: MotoServer
) -> None:
    moto_server.client("ssm").put_parameter(Name="/lookup/existing", Value="v1", Type="String")
    token = await aws_stack.token("alice")
    async with mcp_client(aws_stack.mcp_url, token) as client:
        await start_project(client, "lookups")
        found = (await call(client, "provider-search", {"query": "aws"}))["result"]
        assert found["source"] == "local mirrors" and "could not be searched" in found["note"]
        assert found["results"][0]["addr"] == "hashicorp/aws"
        assert "5.100.0" in found["results"][0]["versions"]
        described = (
            await call(
                client,
                "provider-describe",
                {"provider": "hashicorp/aws", "filter": "s3_bucket_v", "limit": 5},
            )
        )["result"]
        assert described["version"] == "5.100.0"
        assert "aws_s3_bucket_versioning" in described["resource_types"]
        assert all("s3_bucket_v" in n for n in described["resource_types"])

        # Compact by default: what to write, what to reference, without the deprecated.
        compact = await client.call_tool(
            "provider-resources-describe", {"resource_types": ["aws_s3_bucket"]}
        )
        bucket = compact.structured_content["result"]["types"][0]
        assert bucket["optional"]["bucket"] == "string"
        assert bucket["optional"]["tags"] == "map(string)"
        assert "arn" in bucket["read_only"] and "arn" not in bucket["optional"]
        assert "versioning" not in bucket["blocks"]  # deprecated in 5.x
        assert "detail: true" in bucket["left_out"]
        assert len(compact.model_dump_json()) < 3000
        assert "aws_s3_bucket; optional: bucket" in text_of(compact)

        types = (
            await call(
                client,
                "provider-resources-describe",
                {"resource_types": ["aws_s3_bucket"], "detail": True},
            )
        )["result"]["types"][0]
        attributes = {a["name"]: a for a in types["attributes"]}
        assert attributes["bucket"]["optional"] and attributes["bucket"]["computed"]
        assert attributes["arn"]["computed"] and not attributes["arn"].get("optional")
        blocks = {b["name"]: b for b in types["blocks"]}
        assert blocks["versioning"]["nesting"] in ("list", "set")

        ssm_ds = (
            await call(
                client,
                "provider-datasources-describe",
                {"data_sources": ["aws_ssm_parameter"], "detail": True},
            )
        )["result"]["types"][0]
        assert {a["name"] for a in ssm_ds["attributes"]} >= {"name", "value"}
        value_attr = next(a for a in ssm_ds["attributes"] if a["name"] == "value")
        assert value_attr["sensitive"] is True

        read = (
            await call(
                client,
                "lifecycle-datasources-read",
                {"data_source": "aws_ssm_parameter", "config": {"name": "/lookup/existing"}},
            )
        )["result"]
        assert read["state"]["arn"].endswith("parameter/lookup/existing")
        assert read["state"]["value"] != "v1"  # sensitive: masked in tool output

        unknown = await client.call_tool(
            "provider-resources-describe", {"resource_types": ["aws_s3_bukket"]}
        )
        assert unknown.is_error and "aws_s3_bucket" in text_of(unknown)  # did you mean

        # Providers that act on the worker host itself never run; others must be allowed.
        for source, word in (("hashicorp/local", "blocked"), ("someone/else", "not allowed")):
            refused = await client.call_tool("provider-describe", {"provider": source})
            assert refused.is_error and word in text_of(refused), text_of(refused)
        await call(client, "project-release", {"project": "lookups"})
        unlocked = await client.call_tool(
            "lifecycle-datasources-read",
            {
                "data_source": "aws_ssm_parameter",
                "config": {"name": "/lookup/existing"},
                "project": "lookups",
            },
        )
        assert unlocked.is_error and "project-use" in text_of(unlocked)


async def test_state_eject_and_dependencies(
    aws_stack: IntentStack, moto_server: MotoServer
) -> None:
    token = await aws_stack.token("alice")
    reports: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        reports.append((progress, total, message))

    async with mcp_client(aws_stack.mcp_url, token) as client:
        await start_project(client, "statework")
        created = await client.call_tool(
            "lifecycle-resources-create",
            {
                "resources": [
                    {
                        "resource_id": "a",
                        "resource_type": "aws_s3_bucket",
                        "config": {"bucket": "statework-a"},
                    },
                    {
                        "resource_id": "b",
                        "resource_type": "aws_s3_bucket",
                        "config": {"bucket": "statework-b"},
                    },
                ]
            },
            progress_callback=on_progress,
        )
        assert not created.is_error, text_of(created)
        assert reports and reports[-1][:2] == (2, 2)  # both applied
        assert {message for _, _, message in reports} >= {"applied"}

        added = await call(client, "dependencies-add", {"resource_id": "b", "depends_on": ["a"]})
        assert added["depends_on"] == ["a"]
        cycle = await client.call_tool(
            "dependencies-add", {"resource_id": "a", "depends_on": ["b"]}
        )
        assert cycle.is_error and "cycle" in text_of(cycle)
        refused = await call(client, "lifecycle-resources-delete", {"resource_ids": ["a"]})
        assert refused["status"] == "invalid" and "b still depend" in refused["message"]
        blocked = await client.call_tool("state-eject", {"resource_id": "a"})
        assert blocked.is_error and "depend" in text_of(blocked)

        removed = await call(
            client, "dependencies-remove", {"resource_id": "b", "depends_on": ["a"]}
        )
        assert removed["depends_on"] == []
        ejected = await call(client, "state-eject", {"resource_id": "a"})
        assert ejected["resource_id"] == "a"
        listed = await call(client, "state-list", {})
        assert [r["resource_id"] for r in listed["resources"]] == ["b"]
        assert "statework-a" in bucket_names(moto_server)  # still in the cloud
        history = await call(client, "history-list", {"resource_id": "a"})
        assert history["entries"][0]["what"] == "resource eject"


async def test_environment_and_integrations(aws_stack: IntentStack) -> None:
    alice = await aws_stack.http("alice")
    bob = await aws_stack.http("bob")
    await alice.post("/api/v1/projects", json={"name": "envs"})
    integrations = (await alice.get("/api/v1/projects/envs/integrations")).json()
    assert [(i["provider"], i["integration"], i["kind"], i["sandbox"]) for i in integrations] == [
        ("hashicorp/aws", "sandbox", "aws", True)
    ]

    # Without the lock (or admin) nobody edits credentials.
    denied = await bob.put(
        "/api/v1/projects/envs/environment/API_KEY", json={"value": "x", "secret": True}
    )
    assert denied.status_code == 403
    await alice.post("/api/v1/projects/envs/lock")
    reserved = await alice.put("/api/v1/projects/envs/environment/LD_PRELOAD", json={"value": "x"})
    assert reserved.status_code == 422
    ok = await alice.put(
        "/api/v1/projects/envs/environment/AWS_SECRET_ACCESS_KEY",
        json={"value": "hunter2", "secret": True},
    )
    assert ok.status_code == 200 and ok.json()["value"] == "********"
    # The credential-source rule: a member sets plain credentials and regions only.
    for name in (
        "TF_LOG",
        "HTTPS_PROXY",
        "AWS_SHARED_CREDENTIALS_FILE",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_STS",
        "GODEBUG",
        "SSLKEYLOGFILE",
        "STAGE",
    ):
        admin_only = await alice.put(
            f"/api/v1/projects/envs/environment/{name}", json={"value": "x"}
        )
        assert admin_only.status_code == 403, name
        assert "credential-source rule" in admin_only.json()["message"], name
    plain = await alice.put("/api/v1/projects/envs/environment/AWS_REGION", json={"value": "eu"})
    assert plain.json()["value"] == "eu"
    root = await aws_stack.http("root", ["space-admin"])
    assert (
        await root.put("/api/v1/projects/envs/environment/STAGE", json={"value": "dev"})
    ).status_code == 200
    listed: list[dict[str, Any]] = (await alice.get("/api/v1/projects/envs/environment")).json()
    assert {v["name"]: v["value"] for v in listed} == {
        "AWS_REGION": "eu",
        "AWS_SECRET_ACCESS_KEY": "********",
        "STAGE": "dev",
    }

    # The credential-source rule on integrations: whoever manages them (not an admin)
    # may not point a provider at files, profiles, endpoints or proxies.
    made = await root.post(
        "/api/v1/roles",
        json={
            "name": "integration-manager",
            "description": "manages integrations",
            "actions": ["intent-integration:manage", "intent-integration:read"],
        },
    )
    assert made.status_code == 201, made.text
    carol = await aws_stack.http("carol", ["integration-manager"])
    for pointer in (
        {"shared_credentials_files": ["/root/.aws/credentials"]},
        {"shared_config_files": ["/root/.aws/config"]},
        {"profile": "default"},
        {"endpoints": [{"s3": "http://attacker.example"}]},
        {"custom_ca_bundle": "/tmp/evil.pem"},
        {"assume_role_with_web_identity": {"web_identity_token_file": "/var/run/token"}},
        {"http_proxy": "http://attacker.example:3128"},
        {"insecure": True},
    ):
        refused = await carol.post(
            "/api/v1/integrations",
            json={
                "name": "sneaky",
                "kind": "static",
                "settings": {
                    "provider": "hashicorp/aws",
                    "config": {"region": "eu-west-1", **pointer},
                },
            },
        )
        assert refused.status_code == 403, pointer
        assert "credential-source rule" in refused.json()["message"]
        assert next(iter(pointer)) in refused.json()["message"]
    endpoint = await carol.post(
        "/api/v1/integrations",
        json={
            "name": "elsewhere",
            "settings": {
                "role_arn": "arn:aws:iam::123456789012:role/w",
                "endpoint": "http://attacker.example",
            },
        },
    )
    assert endpoint.status_code == 403 and "endpoint" in endpoint.json()["message"]
    created = await carol.post(
        "/api/v1/integrations",
        json={
            "name": "prod account",
            "kind": "static",
            "settings": {
                "provider": "hashicorp/aws",
                "config": {"region": "eu-west-1", "secret_key": "do-not-show"},
            },
        },
    )
    assert created.status_code == 201, created.text
    assert created.json()["settings"]["config"] == {
        "region": "eu-west-1",
        "secret_key": "********",
    }
    # Members attach what exists (with the lock); they do not create integrations.
    assert (
        await alice.post("/api/v1/integrations", json={"name": "mine", "settings": {}})
    ).status_code == 403
    attached = await alice.put(
        "/api/v1/projects/envs/integrations/prod account", json={"read": True, "write": True}
    )
    assert attached.status_code == 200, attached.text
    assert attached.json()["region"] == "eu-west-1"
    assert (await root.delete("/api/v1/projects/envs/environment/STAGE")).status_code == 204
    history = (await alice.get("/api/v1/projects/envs/history")).json()["entries"]
    assert [(e["subject"], e["operation"]) for e in history[:5]] == [
        ("environment", "delete"),
        ("integration", "attach"),
        ("environment", "set"),
        ("environment", "set"),
        ("environment", "set"),
    ]
    assert history[1]["before"]["integration"] == "sandbox"
    assert "hunter2" not in str(history) and "do-not-show" not in str(history)


async def test_integration_without_write_access_refuses_changes(aws_stack: IntentStack) -> None:
    http = await aws_stack.http("alice")
    await http.post("/api/v1/projects", json={"name": "readonly"})
    await http.post("/api/v1/projects/readonly/lock")
    switched = await http.put(
        "/api/v1/projects/readonly/integrations/sandbox",
        json={"region": "us-east-1", "read": True, "write": False},
    )
    assert switched.status_code == 200, switched.text
    response = await http.post(
        "/api/v1/projects/readonly/changes",
        json={
            "operations": [
                {
                    "kind": "create",
                    "resource_id": "b",
                    "resource_type": "aws_s3_bucket",
                    "config": {"bucket": "readonly-bucket"},
                }
            ],
            "wait_seconds": 60,
        },
    )
    body = response.json()
    assert body["status"] == "failed", body
    assert "has Write off" in body["operations"][0]["error"]


async def test_members_cannot_undo_or_route_around_admin_settings(aws_stack: IntentStack) -> None:
    """What only an admin may set, a member may neither remove nor change; credentials
    are sealed whatever the request said; resource configs may not name the worker's
    files, literally or through a reference."""
    root = await aws_stack.http("root", ["space-admin"])
    member = await aws_stack.http("member")
    await member.post("/api/v1/projects", json={"name": "guarded"})
    assert (
        await root.put(
            "/api/v1/projects/guarded/environment/HTTPS_PROXY",
            json={"value": "http://egress-audit:3128"},
        )
    ).status_code == 200
    admin_config = {
        "region": "us-east-1",
        "allowed_account_ids": ["123456789012"],
        "assume_role": [{"role_arn": "arn:aws:iam::123456789012:role/limited"}],
    }
    made = await root.post(
        "/api/v1/integrations",
        json={
            "name": "limited",
            "kind": "static",
            "settings": {"provider": "hashicorp/random", "config": admin_config},
        },
    )
    assert made.status_code == 201, made.text
    assert (
        await root.put("/api/v1/projects/guarded/integrations/limited", json={})
    ).status_code == 200
    assert (await member.post("/api/v1/projects/guarded/lock")).status_code == 200

    removed = await member.delete("/api/v1/projects/guarded/environment/HTTPS_PROXY")
    assert removed.status_code == 403 and "only an admin could set it" in removed.text
    # Whoever manages integrations without being an admin leaves the admin's settings be.
    role = {
        "name": "integration-keeper",
        "description": "manages integrations",
        "actions": ["intent-integration:manage", "intent-integration:read"],
    }
    assert (await root.post("/api/v1/roles", json=role)).status_code == 201
    keeper = await aws_stack.http("keeper", ["integration-keeper"])
    dropped = await keeper.patch(
        "/api/v1/integrations/limited",
        json={"settings": {"config": {"region": "us-east-1"}}},
    )
    assert dropped.status_code == 403
    assert "allowed_account_ids" in dropped.json()["message"]
    assert (await keeper.delete("/api/v1/integrations/limited")).status_code == 403
    # Leaving the admin's settings exactly as they are, they may rename it.
    renamed = await keeper.patch("/api/v1/integrations/limited", json={"name": "renamed"})
    assert renamed.status_code == 200, renamed.text

    plain = await member.put(
        "/api/v1/projects/guarded/environment/AWS_SECRET_ACCESS_KEY",
        json={"value": "plain-but-a-credential", "secret": False},
    )
    assert plain.status_code == 200 and plain.json() == {**plain.json(), "secret": True}
    assert (
        "plain-but-a-credential" not in (await member.get("/api/v1/projects/guarded/history")).text
    )

    def bucket(rid: str, config: dict[str, Any]) -> dict[str, Any]:
        return {"kind": "create", "resource_id": rid, "resource_type": "aws_s3_bucket",
                "config": config}  # fmt: skip

    def s3_object(rid: str, source: str) -> dict[str, Any]:
        return {
            "kind": "create",
            "resource_id": rid,
            "resource_type": "aws_s3_object",
            "config": {"bucket": "${files.bucket}", "key": "k", "source": source},
        }

    literal = await member.post(
        "/api/v1/projects/guarded/changes",
        json={"operations": [s3_object("o", "/var/lib/intent/secret.key")]},
    )
    assert literal.status_code == 403, literal.text
    assert "name a file on the worker host" in literal.json()["message"]
    smuggled = await member.post(
        "/api/v1/projects/guarded/changes",
        json={
            "operations": [
                bucket("files", {"bucket": "guarded-files", "tags": {"p": "/etc/passwd"}}),
                s3_object("o", "${files.tags.p}"),
            ],
            "wait_seconds": 60,
        },
    )
    assert smuggled.status_code in (200, 201, 202), smuggled.text
    final = smuggled.json()
    for _ in range(300):
        if final["status"] not in ("checking_lease", "discovering", "planning", "policy_check"):
            break
        await asyncio.sleep(0.1)
        final = (await member.get(f"/api/v1/changes/{final['change_id']}")).json()
    assert final["status"] == "invalid", final
    assert "resolves to a path on the worker host" in final["message"]
