"""A project acts where its resources are: re-attaching its integration to another
region (or account) is refused while it manages resources there unless meant
(``relocate``), and even then a change planned before does not apply in the new place."""

from __future__ import annotations

from typing import Any

import boto3

from tests.changes.test_references_and_failures import settled
from tests.support.moto import MotoServer
from tests.support.stack import IntentStack


def _parameters(moto_server: MotoServer, region: str) -> set[str]:
    ssm = boto3.client(
        "ssm",
        endpoint_url=moto_server.url,
        region_name=region,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    return {p["Name"] for p in ssm.describe_parameters()["Parameters"]}


def _parameter(resource_id: str, name: str) -> dict[str, Any]:
    return {
        "kind": "create",
        "resource_id": resource_id,
        "resource_type": "aws_ssm_parameter",
        "config": {"name": name, "type": "String", "value": "v"},
    }


async def test_reattaching_elsewhere_after_the_plan_stops_the_apply(
    aws_stack: IntentStack, moto_server: MotoServer
) -> None:
    alice = await aws_stack.http("alice")
    assert (await alice.post("/api/v1/projects", json={"name": "moving"})).is_success
    assert (await alice.post("/api/v1/projects/moving/lock")).is_success
    first = await alice.post(
        "/api/v1/projects/moving/changes",
        json={"wait_seconds": 120, "operations": [_parameter("old", "/moving/old")]},
    )
    assert first.json()["status"] == "applied", first.text
    waiting = await alice.post(
        "/api/v1/projects/moving/changes",
        json={
            "wait_seconds": 120,
            "operations": [
                {"kind": "delete", "resource_id": "old"},
                _parameter("new", "/moving/new"),
            ],
        },
    )
    change = waiting.json()
    assert change["status"] == "awaiting_confirmation", change
    attached = (await alice.get("/api/v1/projects/moving/integrations")).json()
    where = f"/api/v1/projects/moving/integrations/{attached[0]['integration']}"
    elsewhere = {"region": "eu-west-1", "read": True, "write": True}
    # Its resources live in us-east-1: pointing it elsewhere is refused unless meant.
    refused = await alice.put(where, json=elsewhere)
    assert refused.status_code == 409, refused.text
    assert "manages 1 hashicorp/aws resource(s) in" in refused.json()["message"]
    assert "region us-east-1" in refused.json()["message"]
    assert "relocate=true" in refused.json()["message"]
    same_place = await alice.put(where, json={"region": "us-east-1", "read": True, "write": True})
    assert same_place.is_success, same_place.text  # switches alone move nothing
    moved = await alice.put(where, json={**elsewhere, "relocate": True})
    assert moved.is_success, moved.text

    confirmed = await alice.post(f"/api/v1/changes/{change['change_id']}/confirm", json={})
    assert confirmed.is_success, confirmed.text
    view = await settled(alice, change["change_id"])
    assert view["status"] == "failed", view
    assert "changed after it was planned" in view["message"], view["message"]
    # Nothing acted in the new region, nothing was dropped in the old one.
    assert "/moving/new" not in _parameters(moto_server, "eu-west-1")
    assert "/moving/old" in _parameters(moto_server, "us-east-1")
    state = (await alice.get("/api/v1/projects/moving/resources")).json()["resources"]
    assert [r["resource_id"] for r in state] == ["old"]

    # A retry is the holder saying "there, then": it plans, checks and applies again
    # where the project now acts.
    retried = await alice.post(f"/api/v1/changes/{change['change_id']}/retry", json={})
    assert retried.is_success, retried.text
    again = await settled(alice, change["change_id"])
    assert again["status"] == "applied", again
    assert "/moving/new" in _parameters(moto_server, "eu-west-1")
