"""The export's Terraform writer on its own: HCL text, variables, import blocks, state."""

from __future__ import annotations

import json

import pytest

from export import ExportProvider, ExportResource, build_files, open_files, seal_files
from export.hcl import ReferenceTarget, value_expression
from export.state import has_sensitive_values, sensitive_attribute_paths
from providers.ctytype import BOOL, NUMBER, STRING, ListType, MapType, ObjectType, SetType
from providers.schema import Attribute, Block, NestedBlock, Schema
from store.secrets import SecretBox, SecretKeyError, generate_key


def attr(name: str, ty: object = STRING, **flags: bool) -> Attribute:
    flags.setdefault("optional", True)
    return Attribute(name=name, type=ty, **flags)  # type: ignore[arg-type]


RULE = Block(attributes={"id": attr("id"), "days": attr("days", NUMBER)})
BUCKET = Schema(
    version=0,
    block=Block(
        attributes={
            "id": attr("id", optional=False, computed=True),
            "bucket": attr("bucket"),
            "tags": attr("tags", MapType(STRING)),
            "names": attr("names", SetType(STRING)),
            "policy": attr("policy"),
            "force": attr("force", BOOL),
            "password": attr("password", sensitive=True),
            "token": attr("token", sensitive=True),
        },
        block_types={
            "rule": NestedBlock("rule", RULE, "list"),
            "logging": NestedBlock("logging", Block(attributes={"key": attr("key")}), "single"),
            "site": NestedBlock(
                "site",
                Block(attributes={"secret": attr("secret", sensitive=True)}),
                "map",
            ),
        },
    ),
)
AWS = ExportProvider(
    source="hashicorp/aws",
    address="registry.terraform.io/hashicorp/aws",
    version="5.100.0",
    hashes=["zh:abc", "h1:xyz="],
    config={"region": "eu-west-1"},
    block=Block(attributes={"region": attr("region"), "secret_key": attr("secret_key")}),
)


def resource(resource_id: str, config: dict[str, object], **extra: object) -> ExportResource:
    return ExportResource(
        resource_id=resource_id,
        type="aws_s3_bucket",
        provider="hashicorp/aws",
        config=config,
        schema=BUCKET,
        state=extra.pop("state", {"id": resource_id}),  # type: ignore[arg-type]
        private=None,
        schema_version=0,
        **extra,  # type: ignore[arg-type]
    )


TARGETS = {"logs": ReferenceTarget("aws_s3_bucket.logs", BUCKET.implied_type)}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("plain", '"plain"'),
        ('say "hi"\\now\n', '"say \\"hi\\"\\\\now\\n"'),
        ("literal $${x} and %{if}", '"literal $${x} and %%{if}"'),
        ("${logs.id}", "aws_s3_bucket.logs.id"),
        ("arn:aws:s3:::${logs.id}/*", '"arn:aws:s3:::${aws_s3_bucket.logs.id}/*"'),
        (" ${logs.id}", '" ${aws_s3_bucket.logs.id}"'),
        ('${logs.tags["Team Name"]}', 'aws_s3_bucket.logs.tags["Team Name"]'),
        ("${logs.names[0]}", "tolist(aws_s3_bucket.logs.names)[0]"),
        ("${logs.rule[1].days}", "aws_s3_bucket.logs.rule[1].days"),
        (["${logs.id}", 3, True, None], "[aws_s3_bucket.logs.id, 3, true, null]"),
        ({"Team": "web", "cost-center": 1, "null": 2}, None),
    ],
)
def test_values_and_references(value: object, expected: str | None) -> None:
    written = value_expression(value, TARGETS)
    if expected is not None:
        assert written == expected
    else:
        assert written.splitlines() == [
            "{",
            '  Team        = "web"',
            "  cost-center = 1",
            '  "null"      = 2',
            "}",
        ]


def test_a_reference_outside_the_export_is_an_error() -> None:
    with pytest.raises(ValueError, match="not in this export"):
        value_expression("${elsewhere.id}", TARGETS)


def test_files_blocks_variables_dependencies_and_lock() -> None:
    built = build_files(
        project="demo",
        providers=[AWS],
        resources=[
            resource(
                "logs",
                {
                    "bucket": "logs-1",
                    "password": "hunter2",
                    "rule": [{"id": "a", "days": 3}, {"id": "b"}],
                    "logging": [{"key": "k"}],
                    "site": {"main": {"secret": "s3"}},
                },
                import_id="logs-1",
                import_verified=True,
                state={"id": "logs-1", "password": "hunter2", "token": None},
            ),
            resource(
                "copy",
                {"bucket": "${logs.bucket}-copy", "token": "${logs.password}"},
                depends_on=["logs"],
                dependencies=["logs"],
                import_id="copy-1",
                import_note="the provider was down",
            ),
            resource("lost", {"bucket": "x"}, import_note="its state has no id"),
        ],
        include_secrets=False,
        lineage="lin",
        serial=7,
    )
    files = built.files
    main = files["main.tf"]
    assert 'resource "aws_s3_bucket" "logs" {' in main
    # Secrets are variables, never literals; a reference to a secret stays an expression.
    assert "hunter2" not in main and "s3" not in main.replace("aws_s3", "")
    assert "password = var.logs_password" in main
    assert 'site "main" {' in main and "secret = var.logs_site_main_secret" in main
    assert "token  = aws_s3_bucket.logs.password" in main
    assert main.count("rule {") == 2 and "logging {" in main
    assert 'bucket = "${aws_s3_bucket.logs.bucket}-copy"' in main
    assert "depends_on = [aws_s3_bucket.logs]" in main
    variables = files["variables.tf"]
    assert 'variable "logs_password" {' in variables and "sensitive   = true" in variables
    assert set(built.variables) == {"logs_password", "logs_site_main_secret"}
    # The provider block never carries credentials the activity left in (none here).
    assert 'provider "aws" {\n  region = "eu-west-1"\n}' in files["providers.tf"]
    assert '"h1:xyz=",' in files[".terraform.lock.hcl"]
    imports = files["imports.tf"]
    assert 'to = aws_s3_bucket.logs\n  id = "logs-1"' in imports
    assert "# not verified: the provider was down\nimport {" in imports
    assert "# aws_s3_bucket.lost: its state has no id\n# import {" in imports
    assert built.unverified_imports == ["aws_s3_bucket.copy", "aws_s3_bucket.lost"]
    state = json.loads(files["terraform.tfstate"])
    assert (state["version"], state["lineage"], state["serial"]) == (4, "lin", 7)
    assert [r["name"] for r in state["resources"]] == ["copy", "lost"]
    assert state["resources"][0]["instances"][0]["dependencies"] == ["aws_s3_bucket.logs"]
    assert built.not_in_state == ["aws_s3_bucket.logs"]
    assert "Left out of the state" in files["EXPORT.md"]


def test_state_marks_sensitive_paths_like_terraform() -> None:
    state = {"id": "x", "password": "p", "site": {"main": {"secret": "s"}}, "token": None}
    paths = sensitive_attribute_paths(BUCKET, state)
    assert [{"type": "get_attr", "value": "password"}] in paths
    assert [
        {"type": "get_attr", "value": "site"},
        {"type": "index", "value": {"value": "main", "type": "string"}},
        {"type": "get_attr", "value": "secret"},
    ] in paths
    assert has_sensitive_values(BUCKET, state)
    assert not has_sensitive_values(BUCKET, {"id": "x", "password": None, "site": {}})


def test_envelope_round_trips_and_refuses_tampering() -> None:
    box = SecretBox([generate_key()])
    sealed = seal_files(box, {"main.tf": "x", "terraform.tfstate": "{}"})
    assert "main.tf" not in sealed
    assert open_files(box, sealed) == {"main.tf": "x", "terraform.tfstate": "{}"}
    with pytest.raises(SecretKeyError):
        open_files(box, sealed[:-6] + "AAAAAA")
    with pytest.raises(SecretKeyError):
        open_files(SecretBox([generate_key()]), sealed)


def test_object_types_become_variable_types() -> None:
    from export.hcl import hcl_type

    assert hcl_type(ListType(ObjectType({"a": STRING}))) == "list(object({a=string}))"
