"""``intent providers describe`` with the real hashicorp/aws provider from a mirror."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.providers import app as providers_cli
from providers import InstalledProvider
from settings import Settings

pytestmark = pytest.mark.slow


def test_describe_resource_and_data_source(aws_provider: InstalledProvider, tmp_path: Path) -> None:
    # binary = MIRROR/HOST/hashicorp/aws/VERSION/OS_ARCH/terraform-provider-aws_…
    mirror = aws_provider.path.parents[5]
    env = {"INTENT_DATA_DIR": str(tmp_path), "INTENT_PROVIDER_MIRRORS": str(mirror)}
    runner = CliRunner()

    result = runner.invoke(
        providers_cli, ["describe", "hashicorp/aws@5.100.0", "aws_s3_bucket", "--json"], env=env
    )
    assert result.exit_code == 0, result.output
    desc = json.loads(result.output)
    assert desc["type_name"] == "aws_s3_bucket" and desc["kind"] == "resource"
    attrs = {a["name"]: a for a in desc["attributes"]}
    assert attrs["arn"] == {"name": "arn", "type": "string", "computed": True}
    assert any(b["name"] == "versioning" for b in desc["blocks"])

    result = runner.invoke(providers_cli, ["describe", "hashicorp/aws", "aws_s3_bucket"], env=env)
    assert result.exit_code == 0, result.output
    assert "bucket" in result.output and "block versioning (list, max 1)" in result.output

    result = runner.invoke(
        providers_cli, ["describe", "hashicorp/aws", "aws_region", "--data-source"], env=env
    )
    assert result.exit_code == 0 and "data source" in result.output

    result = runner.invoke(providers_cli, ["describe", "hashicorp/aws", "aws_s3_buckt"], env=env)
    assert result.exit_code == 1
    assert "did you mean aws_s3_bucket" in result.output


def test_install_warms_the_schema_cache(aws_provider: InstalledProvider, tmp_path: Path) -> None:
    """`intent providers install` leaves the schema cached where the worker reads it, so
    the first change using the provider does not fetch it."""
    mirror = aws_provider.path.parents[5]
    env = {
        "INTENT_DATA_DIR": str(tmp_path),
        "INTENT_PROVIDER_MIRRORS": str(mirror),
        "INTENT_SCHEMA_CACHE_DIR": str(tmp_path / "schemas"),
    }
    result = CliRunner().invoke(providers_cli, ["install", "hashicorp/aws@5.100.0"], env=env)
    assert result.exit_code == 0, result.output
    assert "schema:    cached" in result.output
    schemas = Settings(schema_cache_dir=tmp_path / "schemas").resolved_schema_dir
    assert (schemas / aws_provider.sha256 / "index.json").is_file()
