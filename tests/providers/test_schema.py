"""Schema parsing, the on-disk cache with lazy per-type loading, and descriptions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from providers import InstalledProvider, ProviderPool, SchemaCache, UnknownTypeError
from providers.ctytype import NUMBER, STRING, ListType, ObjectType, SetType
from providers.proto import tfplugin5_pb2 as pb5
from providers.proto import tfplugin6_pb2 as pb6


def _t(spec: object) -> bytes:
    return json.dumps(spec).encode()


def _v6_response() -> pb6.GetProviderSchema.Response:
    S = pb6.Schema
    resource = S(
        version=2,
        block=S.Block(
            description="A thing.",
            attributes=[
                S.Attribute(name="name", type=_t("string"), required=True, description="Its name."),
                S.Attribute(name="id", type=_t("string"), computed=True),
                S.Attribute(name="token", type=_t("string"), optional=True, sensitive=True),
                S.Attribute(name="password_wo", type=_t("string"), optional=True, write_only=True),
                S.Attribute(
                    name="ports",
                    optional=True,
                    nested_type=S.Object(
                        nesting=S.Object.SET,
                        attributes=[
                            S.Attribute(name="number", type=_t("number"), required=True),
                            S.Attribute(
                                name="secret", type=_t("string"), optional=True, sensitive=True
                            ),
                        ],
                    ),
                ),
            ],
            block_types=[
                S.NestedBlock(
                    type_name="rule",
                    nesting=S.NestedBlock.LIST,
                    min_items=1,
                    max_items=3,
                    block=S.Block(
                        attributes=[S.Attribute(name="cidr", type=_t("string"), optional=True)]
                    ),
                )
            ],
        ),
    )
    return pb6.GetProviderSchema.Response(
        provider=S(
            block=S.Block(attributes=[S.Attribute(name="region", type=_t("string"), optional=True)])
        ),
        resource_schemas={"demo_thing": resource, "demo_other": S(block=S.Block())},
        data_source_schemas={
            "demo_lookup": S(
                block=S.Block(attributes=[S.Attribute(name="q", type=_t("string"), required=True)])
            )
        },
        server_capabilities=pb6.ServerCapabilities(
            plan_destroy=True, get_provider_schema_optional=True
        ),
    )


def test_cache_roundtrip_and_lazy_loading(tmp_path: Path) -> None:
    cache = SchemaCache(tmp_path)
    sha = "ab" * 32
    assert cache.get(sha) is None
    stored = cache.put(sha, 6, _v6_response())
    assert stored.resource_types == ["demo_other", "demo_thing"]
    assert stored.data_source_types == ["demo_lookup"]
    assert stored.capabilities.plan_destroy and stored.capabilities.get_provider_schema_optional

    fresh = SchemaCache(tmp_path).get(sha)  # another process: only the index is read
    assert fresh is not None and fresh._loaded == {}
    assert fresh.resource_version("demo_thing") == 2 and fresh._loaded == {}
    thing = fresh.resource("demo_thing")
    assert list(fresh._loaded) == [("resource", "demo_thing")]
    assert thing.version == 2
    ty = thing.implied_type
    assert ty.attributes["name"] == STRING
    assert ty.attributes["ports"] == SetType(ObjectType({"number": NUMBER, "secret": STRING}))
    assert ty.attributes["rule"] == ListType(ObjectType({"cidr": STRING}))
    assert thing.sensitive_paths == [("token",), ("ports", "*", "secret")]
    assert thing.write_only_paths == [("password_wo",)]
    assert fresh.data_source("demo_lookup").block.attributes["q"].required
    assert fresh.provider.block.attributes["region"].optional

    with pytest.raises(UnknownTypeError, match="did you mean demo_thing"):
        fresh.resource("demo_thng")
    with pytest.raises(UnknownTypeError):
        fresh.resource("../../etc/passwd")
    with pytest.raises(ValueError):
        cache.get("../not-a-digest")


def test_description_is_compact(tmp_path: Path) -> None:
    schema = SchemaCache(tmp_path).put("cd" * 32, 6, _v6_response())
    desc = schema.describe_resource("demo_thing", provider="demo/demo", version="1.0.0")
    dumped = desc.model_dump(exclude_defaults=True)
    assert dumped["type_name"] == "demo_thing" and dumped["schema_version"] == 2
    attrs = {a["name"]: a for a in dumped["attributes"]}
    assert dumped["attributes"][0]["name"] == "name"  # required first
    assert attrs["name"] == {
        "name": "name",
        "type": "string",
        "description": "Its name.",
        "required": True,
    }
    assert attrs["id"] == {"name": "id", "type": "string", "computed": True}
    assert attrs["token"]["sensitive"] and attrs["password_wo"]["write_only"]
    assert attrs["ports"]["nesting"] == "set" and "type" not in attrs["ports"]
    assert {a["name"] for a in attrs["ports"]["attributes"]} == {"number", "secret"}
    (rule,) = dumped["blocks"]
    assert rule == {
        "name": "rule",
        "nesting": "list",
        "min_items": 1,
        "max_items": 3,
        "attributes": [{"name": "cidr", "type": "string", "optional": True}],
    }


def test_protocol5_schema(tmp_path: Path) -> None:
    S = pb5.Schema
    response = pb5.GetProviderSchema.Response(
        provider=S(block=S.Block()),
        resource_schemas={
            "old_thing": S(
                block=S.Block(
                    attributes=[S.Attribute(name="a", type=_t(["map", "string"]), optional=True)],
                    block_types=[
                        S.NestedBlock(type_name="g", nesting=S.NestedBlock.GROUP, block=S.Block()),
                    ],
                )
            )
        },
    )
    schema = SchemaCache(tmp_path).put("ef" * 32, 5, response)
    block = schema.resource("old_thing").block
    assert block.block_types["g"].nesting == "group"
    assert schema.protocol_version == 5 and not schema.capabilities.plan_destroy


@pytest.mark.slow
async def test_aws_schema_cached_once(
    aws_provider: InstalledProvider, schema_cache_dir: Path, provider_runtime_dir: Path
) -> None:
    pool = ProviderPool(
        schema_cache=SchemaCache(schema_cache_dir), runtime_dir=provider_runtime_dir
    )
    try:
        schema = await pool.schema(aws_provider)
    finally:
        await pool.aclose()
    index = schema_cache_dir / aws_provider.sha256 / "index.json"
    assert index.exists()
    mtime = index.stat().st_mtime_ns
    assert len(schema.resource_types) > 1000 and "aws_s3_bucket" in schema.resource_types
    assert "aws_s3_bucket" in schema.data_source_types
    desc = schema.describe_resource("aws_s3_bucket", provider="hashicorp/aws", version="5.100.0")
    attrs = {a.name: a for a in desc.attributes}
    assert attrs["bucket"].optional and attrs["bucket"].computed
    assert attrs["arn"].computed and not attrs["arn"].optional
    assert attrs["tags"].type == "map(string)"
    blocks = {b.name: b for b in desc.blocks}
    assert blocks["versioning"].nesting == "list" and blocks["versioning"].max_items == 1

    # a new pool (another worker) reads the cache instead of asking the provider
    again = await ProviderPool(schema_cache=SchemaCache(schema_cache_dir)).schema(aws_provider)
    assert again.resource_types == schema.resource_types
    assert index.stat().st_mtime_ns == mtime
