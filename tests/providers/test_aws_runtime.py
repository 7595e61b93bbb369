"""The runtime against the real hashicorp/aws provider and a moto server.

Every step is checked on the fake cloud with boto3, not only through the provider.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from providers import (
    UNKNOWN,
    UNKNOWN_DISPLAY,
    ApplyResult,
    ChangeAction,
    PlannedChange,
    ProviderApplyError,
    ProviderClient,
    ProviderError,
    ResourceState,
)
from tests.support import MotoServer

pytestmark = pytest.mark.slow


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _tags(s3: Any, bucket: str) -> dict[str, str]:
    try:
        tag_set = s3.get_bucket_tagging(Bucket=bucket)["TagSet"]
    except ClientError:
        return {}
    return {t["Key"]: t["Value"] for t in tag_set}


def _buckets(s3: Any) -> set[str]:
    return {b["Name"] for b in s3.list_buckets()["Buckets"]}


def _roundtrip(change: PlannedChange) -> PlannedChange:
    # Results travel as Temporal payloads: they must survive JSON both ways.
    return PlannedChange.model_validate_json(change.model_dump_json())


async def test_bucket_lifecycle(aws_client: ProviderClient, moto_server: MotoServer) -> None:
    s3 = moto_server.client("s3")
    bucket = _name("life")

    # create
    change = await aws_client.plan(
        "aws_s3_bucket", None, {"bucket": bucket, "tags": {"env": "dev"}}
    )
    assert change.action == ChangeAction.CREATE and change.actions == ["create"]
    assert change.prior is None
    by_attr = {c.attribute: c for c in change.diff}
    assert by_attr["bucket"].after == bucket
    assert by_attr['tags["env"]'].after == "dev"
    assert by_attr["arn"].after_unknown and by_attr["arn"].after == UNKNOWN_DISPLAY
    assert bucket not in _buckets(s3)
    created = await aws_client.apply(_roundtrip(change))
    assert created.state is not None and created.state.attributes["id"] == bucket
    assert created.state.private, "provider private data must be kept"
    assert bucket in _buckets(s3)
    assert _tags(s3, bucket) == {"env": "dev"}
    state = ResourceState.model_validate_json(created.state.model_dump_json())

    # nothing to do when config matches
    same = await aws_client.plan("aws_s3_bucket", state, {"bucket": bucket, "tags": {"env": "dev"}})
    assert same.action == ChangeAction.NO_OP and same.diff == [] and same.drift == []

    # tag update: in place, no replacement
    change = await aws_client.plan(
        "aws_s3_bucket", state, {"bucket": bucket, "tags": {"env": "prod"}}
    )
    assert change.action == ChangeAction.UPDATE and change.requires_replace == []
    tag_change = next(c for c in change.diff if c.attribute == 'tags["env"]')
    assert (tag_change.before, tag_change.after) == ("dev", "prod")
    assert not tag_change.requires_replace
    updated = await aws_client.apply(_roundtrip(change))
    assert updated.state is not None
    assert _tags(s3, bucket) == {"env": "prod"}
    assert updated.state.attributes["arn"] == f"arn:aws:s3:::{bucket}"
    state = updated.state

    # read: no drift yet
    read = await aws_client.read(state)
    assert read.exists and read.drift == []
    assert read.state is not None and read.state.attributes["tags"] == {"env": "prod"}

    # drift: somebody changes the tags directly
    s3.put_bucket_tagging(
        Bucket=bucket, Tagging={"TagSet": [{"Key": "env", "Value": "changed-outside"}]}
    )
    read = await aws_client.read(state)
    drifted = {c.attribute: (c.before, c.after) for c in read.drift}
    assert drifted['tags["env"]'] == ("prod", "changed-outside")
    # planning from the stored state refreshes first and puts the tag back
    change = await aws_client.plan(
        "aws_s3_bucket", state, {"bucket": bucket, "tags": {"env": "prod"}}
    )
    assert change.action == ChangeAction.UPDATE
    assert any(c.attribute == 'tags["env"]' for c in change.drift)
    fixed = await aws_client.apply(change)
    assert _tags(s3, bucket) == {"env": "prod"}
    assert fixed.state is not None
    state = fixed.state

    # delete
    change = await aws_client.plan("aws_s3_bucket", state, None)
    assert change.action == ChangeAction.DELETE and change.actions == ["delete"]
    deleted = await aws_client.apply(_roundtrip(change))
    assert deleted.state is None
    assert bucket not in _buckets(s3)

    # deleted outside: read says so, and a plan recreates it
    read = await aws_client.read(state)
    assert not read.exists and read.state is None
    change = await aws_client.plan("aws_s3_bucket", state, {"bucket": bucket})
    assert change.prior_gone and change.action == ChangeAction.CREATE


async def test_bucket_rename_requires_replace(
    aws_client: ProviderClient, moto_server: MotoServer
) -> None:
    s3 = moto_server.client("s3")
    old, new = _name("old"), _name("new")
    created = await aws_client.apply(
        await aws_client.plan("aws_s3_bucket", None, {"bucket": old, "tags": {"k": "v"}})
    )
    assert created.state is not None

    change = await aws_client.plan(
        "aws_s3_bucket", created.state, {"bucket": new, "tags": {"k": "v"}}
    )
    assert change.action == ChangeAction.REPLACE
    assert change.actions == ["delete", "create"]
    assert change.requires_replace == [["bucket"]] and change.replace_paths == ["bucket"]
    bucket_change = next(c for c in change.diff if c.attribute == "bucket")
    assert bucket_change.requires_replace and (bucket_change.before, bucket_change.after) == (
        old,
        new,
    )
    assert change.planned is not None and change.planned["bucket"] == new

    replaced = await aws_client.apply(_roundtrip(change))
    assert replaced.state is not None and replaced.state.attributes["id"] == new
    names = _buckets(s3)
    assert new in names and old not in names
    assert _tags(s3, new) == {"k": "v"}

    # create_before_destroy order
    newer = _name("newer")
    change = await aws_client.plan(
        "aws_s3_bucket", replaced.state, {"bucket": newer}, create_before_destroy=True
    )
    assert change.actions == ["create", "delete"]
    result = await aws_client.apply(change)
    assert result.state is not None and result.state.attributes["id"] == newer
    names = _buckets(s3)
    assert newer in names and new not in names
    await aws_client.apply(await aws_client.plan("aws_s3_bucket", result.state, None))


async def test_import_ssm_parameter(aws_client: ProviderClient, moto_server: MotoServer) -> None:
    ssm = moto_server.client("ssm")
    name = f"/intent/{_name('param')}"
    ssm.put_parameter(
        Name=name, Value="s3cret-value", Type="SecureString", Description="from boto3"
    )

    imported = await aws_client.import_resource("aws_ssm_parameter", name)
    state = imported.state
    assert state.type_name == "aws_ssm_parameter"
    assert state.attributes["name"] == name
    assert state.attributes["type"] == "SecureString"
    assert state.attributes["description"] == "from boto3"
    assert state.attributes["value"] == "s3cret-value"

    # sensitive values are redacted in user views
    view = aws_client.user_view("aws_ssm_parameter", state.attributes)
    assert view is not None and view["value"] == "(sensitive)" and view["name"] == name
    assert ("value",) in aws_client.resource_schema("aws_ssm_parameter").sensitive_paths

    read = await aws_client.read(state)
    assert read.exists and read.drift == []

    # an update through intent after the import lands in SSM
    config = {"name": name, "type": "SecureString", "value": "new-value", "description": "managed"}
    change = await aws_client.plan("aws_ssm_parameter", state, config)
    assert change.action == ChangeAction.UPDATE
    value_change = next(c for c in change.diff if c.attribute == "value")
    assert value_change.sensitive and value_change.after == "(sensitive)"
    await aws_client.apply(change)
    param = ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]
    assert param["Value"] == "new-value"

    with pytest.raises(ProviderError, match="non-existent"):
        await aws_client.import_resource("aws_ssm_parameter", "/intent/does-not-exist")


async def test_instance_plan_with_unknowns(aws_client: ProviderClient) -> None:
    config = {
        "ami": "ami-12c6146b",
        "instance_type": "t3.micro",
        "subnet_id": UNKNOWN,  # from a subnet created in the same change
        "tags": {"Name": "web", "subnet": {"$unknown": True}},
    }
    change = await aws_client.plan("aws_instance", None, config)
    assert change.action == ChangeAction.CREATE
    assert change.config_has_unknowns
    assert change.planned is not None
    assert change.planned["subnet_id"] == {"$unknown": True}
    assert change.planned["id"] == {"$unknown": True}
    assert change.planned["instance_type"] == "t3.micro"
    by_attr = {c.attribute: c for c in change.diff}
    assert by_attr["subnet_id"].after_unknown
    # SDKv2 makes a whole map unknown when one of its values is.
    assert by_attr.get('tags["subnet"]', by_attr.get("tags")).after_unknown  # type: ignore[union-attr]
    roundtripped = _roundtrip(change)
    assert roundtripped.planned == change.planned

    # applying still-unknown config is refused with a clear message
    with pytest.raises(ProviderError, match="unknown values"):
        await aws_client.apply(change)


async def test_unknown_config_resolved_at_apply(
    aws_client: ProviderClient, moto_server: MotoServer
) -> None:
    s3 = moto_server.client("s3")
    bucket = _name("late")
    change = await aws_client.plan(
        "aws_s3_bucket", None, {"bucket": bucket, "tags": {"ref": UNKNOWN}}
    )
    assert change.config_has_unknowns
    result = await aws_client.apply(change, {"bucket": bucket, "tags": {"ref": "vpc-123"}})
    assert result.state is not None
    assert _tags(s3, bucket) == {"ref": "vpc-123"}
    # a final config that contradicts the approved plan is rejected before anything runs
    change = await aws_client.plan(
        "aws_s3_bucket", result.state, {"bucket": bucket, "tags": {"ref": "vpc-456"}}
    )
    await aws_client.apply(change)
    assert _tags(s3, bucket) == {"ref": "vpc-456"}
    await aws_client.apply(await aws_client.plan("aws_s3_bucket", result.state, None))


async def test_config_errors_name_the_attribute(aws_client: ProviderClient) -> None:
    # ours: unknown argument, with a suggestion
    with pytest.raises(ProviderError) as info:
        await aws_client.plan("aws_s3_bucket", None, {"bucket": "x-y-z", "tagz": {}})
    (diag,) = info.value.errors
    assert diag.attribute_path == ["tagz"] and "tags" in diag.detail

    # the provider's own validation, mapped to the attribute path
    diags = await aws_client.validate_resource_config(
        "aws_ssm_parameter", {"name": "/x", "type": "NotAType", "value": "v"}
    )
    errors = [d for d in diags if d.severity == "error"]
    assert errors and errors[0].attribute_path == ["type"] and errors[0].attribute == "type"
    with pytest.raises(ProviderError) as info:
        await aws_client.plan(
            "aws_ssm_parameter", None, {"name": "/x", "type": "NotAType", "value": "v"}
        )
    assert info.value.errors[0].attribute_path == ["type"]

    # type conversion errors and missing required arguments
    diags = await aws_client.validate_resource_config(
        "aws_ssm_parameter", {"name": "/x", "type": "String", "value": "v", "overwrite": "maybe"}
    )
    assert [d.attribute for d in diags if d.severity == "error"] == ["overwrite"]
    diags = await aws_client.validate_resource_config("aws_ssm_parameter", {"type": "String"})
    assert "name" in {d.attribute for d in diags if d.severity == "error"}

    with pytest.raises(
        ProviderError, match=r"no resource type named 'aws_s3_buckt'.*aws_s3_bucket"
    ):
        await aws_client.plan("aws_s3_buckt", None, {})


async def test_apply_error_keeps_partial_state(aws_client: ProviderClient) -> None:
    # S3 (and moto) reject a 2-character name only when creating: the plan succeeds,
    # the apply fails, and there is no object to store.
    change = await aws_client.plan("aws_s3_bucket", None, {"bucket": "ab"})
    with pytest.raises(ProviderApplyError) as info:
        await aws_client.apply(change)
    assert "InvalidBucketName" in str(info.value) or info.value.errors
    assert isinstance(info.value.result, ApplyResult) and info.value.result.state is None


async def test_data_source_and_deferred_read(
    aws_client: ProviderClient, moto_server: MotoServer
) -> None:
    bucket = _name("data")
    moto_server.client("s3").create_bucket(Bucket=bucket)
    result = await aws_client.read_data_source("aws_s3_bucket", {"bucket": bucket})
    assert not result.deferred and result.state is not None
    assert result.state["arn"] == f"arn:aws:s3:::{bucket}"

    deferred = await aws_client.read_data_source("aws_s3_bucket", {"bucket": UNKNOWN})
    assert deferred.deferred and deferred.state is not None
    assert deferred.state["arn"] == {"$unknown": True}


async def test_stored_state_is_upgraded_on_load(
    aws_client: ProviderClient, moto_server: MotoServer
) -> None:
    # A stored state with only a few attributes (an older intent, or hand-written) is
    # brought to the current schema by UpgradeResourceState before anything else.
    bucket = _name("upg")
    moto_server.client("s3").create_bucket(Bucket=bucket)
    partial = ResourceState(
        type_name="aws_s3_bucket", schema_version=0, attributes={"id": bucket, "bucket": bucket}
    )
    value, _private, _warnings = await aws_client.upgrade_state(partial)
    assert value["bucket"] == bucket and "tags_all" in value
    read = await aws_client.read(partial)
    assert read.state is not None and read.state.attributes["arn"] == f"arn:aws:s3:::{bucket}"
