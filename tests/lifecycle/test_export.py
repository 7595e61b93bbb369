"""Export through the real pieces, with the terraform CLI as the yardstick.

A project holding a bucket, its versioning (referencing it), an SSM parameter and a
SecureString is exported; ``terraform init`` (from the filesystem mirror, checked against
the exported lock file) and ``terraform plan`` against moto must find nothing to change,
both with the exported state and, from an empty state, through the import blocks.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cli import app
from providers.models import InstalledProvider
from tests.api.mcp_client import mcp_client
from tests.changes.test_lifecycle import call, start_project
from tests.support.moto import MotoServer
from tests.support.stack import IntentStack
from tests.support.terraform import Terraform

pytestmark = pytest.mark.slow

SECRET = "export-s3cr3t-7Qx9"


def write(directory: Path, files: dict[str, str]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(text)


def scan(directory: Path, needle: str) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.is_file() and needle in p.read_text())


def all_imported_no_op(plan: dict[str, Any]) -> list[str]:
    changes = plan["resource_changes"]
    shown = [
        (
            c["address"],
            c["change"]["actions"],
            {
                k: (v, c["change"]["after"].get(k))
                for k, v in (c["change"].get("before") or {}).items()
                if v != (c["change"].get("after") or {}).get(k)
            },
        )
        for c in changes
        if c["change"]["actions"] != ["no-op"]
    ]
    assert not shown, shown
    assert all("importing" in c["change"] for c in changes), changes
    return sorted(c["address"] for c in changes)


async def test_export_plans_no_changes_with_state_and_with_import_blocks(
    aws_stack: IntentStack,
    moto_server: MotoServer,
    aws_provider: InstalledProvider,
    tmp_path: Path,
) -> None:
    token = await aws_stack.token("alice")
    async with mcp_client(aws_stack.mcp_url, token) as client:
        await start_project(client, "exported")
        created = await call(
            client,
            "lifecycle-resources-create",
            {
                "resources": [
                    {
                        "resource_id": "logs",
                        "resource_type": "aws_s3_bucket",
                        "config": {"bucket": "export-logs-1", "tags": {"Team": "web"}},
                    },
                    {
                        "resource_id": "logs-versioning",
                        "resource_type": "aws_s3_bucket_versioning",
                        "config": {
                            "bucket": "${logs.id}",
                            "versioning_configuration": [{"status": "Enabled"}],
                        },
                    },
                    {
                        "resource_id": "db-host",
                        "resource_type": "aws_ssm_parameter",
                        "config": {
                            "name": "/export/db-host",
                            "type": "String",
                            "value": "db.internal",
                        },
                    },
                    {
                        "resource_id": "db-password",
                        "resource_type": "aws_ssm_parameter",
                        "config": {
                            "name": "/export/db-password",
                            "type": "SecureString",
                            "value": SECRET,
                        },
                    },
                ]
            },
        )
        assert created["status"] == "applied", created

        # Over MCP (any member, never with secrets).
        exported = await call(client, "project-export", {"project": "exported"})

    addresses = [
        "aws_s3_bucket.logs",
        "aws_s3_bucket_versioning.logs-versioning",
        "aws_ssm_parameter.db-host",
        "aws_ssm_parameter.db-password",
    ]
    assert sorted(exported["resources"]) == addresses
    # A parameter's value is sensitive in the provider's schema, String or SecureString:
    # both are variables and, without secrets, come in through their import blocks.
    assert exported["not_in_state"] == addresses[2:]
    assert exported["unverified_imports"] == []
    variables = {what.split(" ")[0]: name for name, what in exported["variables"].items()}
    assert sorted(variables) == [f"{a}.value" for a in addresses[2:]]
    values = {
        variables["aws_ssm_parameter.db-host.value"]: "db.internal",
        variables["aws_ssm_parameter.db-password.value"]: SECRET,
    }
    files = exported["files"]
    assert "bucket = aws_s3_bucket.logs.id" in files["main.tf"]
    assert f"value = var.{variables['aws_ssm_parameter.db-password.value']}" in files["main.tf"]
    assert 'version = "5.100.0"' in files["versions.tf"]
    assert "h1:" in files[".terraform.lock.hcl"]
    state = json.loads(files["terraform.tfstate"])
    assert state["version"] == 4 and state["lineage"] and state["serial"] >= 4
    assert [r["name"] for r in state["resources"]] == ["logs", "logs-versioning"]

    mirror = aws_provider.path.parents[5]
    plain = tmp_path / "without-secrets"
    write(plain, files)
    assert scan(plain, SECRET) == []

    # The import path: an empty state, every resource imported, nothing changed.
    (plain / "terraform.tfstate").unlink()
    terraform = Terraform(plain, mirror, moto_server, values)
    terraform.init()
    code, plan = terraform.plan()
    assert code == 2  # imports count as changes for -detailed-exitcode
    assert all_imported_no_op(plan) == addresses

    # The state path, with secrets: an admin, through the CLI; recorded in history.
    admin = await aws_stack.token("root-admin", ["space-admin"])
    env = {"INTENT_URL": aws_stack.base_url, "INTENT_TOKEN": admin}
    full = tmp_path / "with-secrets"
    result = await asyncio.to_thread(
        CliRunner().invoke,
        app,
        ["export", "exported", str(full), "--include-secrets"],
        env=env,
    )
    assert result.exit_code == 0, result.output
    assert "holds secrets in clear" in result.output
    assert scan(full, SECRET) == ["terraform.tfstate"]
    assert (full / "terraform.tfstate").stat().st_mode & 0o077 == 0
    terraform = Terraform(full, mirror, moto_server, values)
    terraform.init()
    code, plan = terraform.plan()
    assert code == 0, plan["resource_changes"]

    # Secrets are the admin's call; the export with them is on record.
    alice = await aws_stack.http("alice")
    refused = await alice.post("/api/v1/projects/exported/export", json={"include_secrets": True})
    assert refused.status_code == 403 and "admin" in refused.json()["message"]
    history = (await alice.get("/api/v1/projects/exported/history")).json()["entries"]
    exports = [e for e in history if e["operation"] == "export"]
    assert [(e["actor"], e["details"]["include_secrets"]) for e in exports] == [
        ("root-admin", True),
        ("alice", False),
    ]
