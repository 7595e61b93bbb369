"""Discovery: what exists in the cloud that the project does not manage yet, then one
import change for the user's selection. Real provider, moto as AWS."""

from __future__ import annotations

import asyncio
import json

import pytest
from typer.testing import CliRunner

from cli import app
from providers.listings import LISTINGS
from providers.models import InstalledProvider
from providers.pool import ProviderPool
from tests.api.mcp_client import mcp_client, text_of
from tests.changes.test_lifecycle import call, start_project
from tests.support.moto import MotoServer
from tests.support.stack import IntentStack

pytestmark = pytest.mark.slow


async def test_every_listing_matches_the_provider_schema(
    aws_pool: ProviderPool, aws_provider: InstalledProvider
) -> None:
    schema = await aws_pool.schema(aws_provider)
    for resource_type, listing in LISTINGS.items():
        assert schema.has_resource(resource_type), resource_type
        block = schema.data_source(listing.data_source).block
        for attribute in [*listing.defaults, *(a for a, _ in listing.filters.values())]:
            assert attribute in block.attributes, (listing.data_source, attribute)
            assert block.attributes[attribute].configurable, (listing.data_source, attribute)


async def test_discover_lists_exactly_the_unmanaged_then_one_import(
    aws_stack: IntentStack, moto_server: MotoServer
) -> None:
    ssm = moto_server.client("ssm")
    for name in ("/disc/app/a", "/disc/app/b", "/disc/c"):
        ssm.put_parameter(Name=name, Value=f"value of {name}", Type="String")
    ssm.put_parameter(Name="/unrelated/x", Value="x", Type="String")

    # Another project already manages one of them.
    async with mcp_client(aws_stack.mcp_url, await aws_stack.token("bob")) as bob:
        await start_project(bob, "elsewhere")
        owned = await call(
            bob,
            "lifecycle-resources-create",
            {
                "resources": [
                    {
                        "resource_id": "theirs",
                        "resource_type": "aws_ssm_parameter",
                        "config": {"name": "/disc/theirs", "type": "String", "value": "t"},
                    }
                ]
            },
        )
        assert owned["status"] == "applied", owned

    async with mcp_client(aws_stack.mcp_url, await aws_stack.token("alice")) as client:
        await start_project(client, "disc")
        mine = await call(
            client,
            "lifecycle-resources-create",
            {
                "resources": [
                    {
                        "resource_id": "mine",
                        "resource_type": "aws_ssm_parameter",
                        "config": {"name": "/disc/mine", "type": "SecureString", "value": "m"},
                    }
                ]
            },
        )
        assert mine["status"] == "applied", mine

        found = await call(
            client,
            "resource-discover",
            {"resource_type": "aws_ssm_parameter", "filters": {"path": "/disc"}},
        )
        assert [(f["import_id"], f["managed_by"]) for f in found["found"]] == [
            ("/disc/app/a", None),
            ("/disc/app/b", None),
            ("/disc/c", None),
            ("/disc/theirs", "elsewhere/theirs"),
        ]
        assert found["managed_here"] == ["mine"]
        assert found["found"][0]["summary"] == "String parameter /disc/app/a"
        # Names only: a parameter's value never comes back from discovery.
        assert "value of" not in json.dumps(found)
        assert [i["resource_id"] for i in found["imports"]] == [
            "disc-app-a",
            "disc-app-b",
            "disc-c",
        ]

        # The user picks two: one import change.
        selection = [i for i in found["imports"] if i["import_id"] != "/disc/app/b"]
        imported = await call(client, "lifecycle-resources-import", {"resources": selection})
        assert imported["status"] == "applied", imported
        state = await call(client, "state-list", {})
        assert sorted(r["resource_id"] for r in state["resources"]) == [
            "disc-app-a",
            "disc-c",
            "mine",
        ]

        again = await call(
            client,
            "resource-discover",
            {
                "resource_type": "aws_ssm_parameter",
                "filters": {"path": "/disc", "prefix": "/disc/app"},
            },
        )
        assert [f["import_id"] for f in again["found"]] == ["/disc/app/b"]
        assert again["managed_here"] == ["disc-app-a", "disc-c", "mine"]

        bad = await client.call_tool(
            "resource-discover", {"resource_type": "aws_ssm_parameter", "filters": {"pth": "/"}}
        )
        assert bad.is_error and "'pth' is not a filter" in text_of(bad)
        unknown = await client.call_tool("resource-discover", {"resource_type": "aws_nope"})
        assert unknown.is_error and "lifecycle-datasources-read" in text_of(unknown)

    # Who manages an object elsewhere is told only to those who may see that project.
    boss = await aws_stack.http("boss", roles=["space-admin"])
    for space in ("hidden", "open"):
        made = await boss.post("/api/v1/spaces", json={"name": space, "parent": "root"})
        assert made.status_code == 201, made.text
    await aws_stack.token("olga", roles=[])
    bound = await boss.post(
        "/api/v1/spaces/open/bindings", json={"role": "space-writer", "subject": "olga"}
    )
    assert bound.status_code == 201, bound.text
    async with mcp_client(aws_stack.mcp_url, await aws_stack.token("boss")) as client:
        await call(client, "project-create", {"name": "secret", "space": "hidden"})
        await call(client, "project-use", {"project": "secret"})
        await call(
            client,
            "lifecycle-resources-create",
            {
                "resources": [
                    {
                        "resource_id": "s",
                        "resource_type": "aws_ssm_parameter",
                        "config": {"name": "/disc/hidden", "type": "String", "value": "h"},
                    }
                ]
            },
        )
    async with mcp_client(aws_stack.mcp_url, await aws_stack.token("olga")) as client:
        await call(client, "project-create", {"name": "olgas", "space": "open"})
        await call(client, "project-use", {"project": "olgas"})
        seen = await call(
            client,
            "resource-discover",
            {"resource_type": "aws_ssm_parameter", "filters": {"path": "/disc"}},
        )
    owners = {f["import_id"]: f["managed_by"] for f in seen["found"]}
    assert owners["/disc/hidden"] == "another project (not visible to you)"
    assert "secret" not in json.dumps(seen)

    # Tagged buckets (the tagging API's reach), and the CLI.
    s3 = moto_server.client("s3")
    s3.create_bucket(Bucket="disc-tagged")
    s3.put_bucket_tagging(Bucket="disc-tagged", Tagging={"TagSet": [{"Key": "team", "Value": "a"}]})
    s3.create_bucket(Bucket="disc-untagged")
    env = {"INTENT_URL": aws_stack.base_url, "INTENT_TOKEN": await aws_stack.token("alice")}
    listed = await asyncio.to_thread(
        CliRunner().invoke,
        app,
        ["discover", "disc", "aws_s3_bucket", "--filter", "prefix=disc-"],
        env=env,
    )
    assert listed.exit_code == 0, listed.output
    assert "bucket disc-tagged (team=a)" in listed.output and "disc-untagged" not in listed.output
    assert "tag" in listed.output.splitlines()[-1]  # the note says why
