"""A project's provider lock: recorded at first use, enforced at every launch.

The provider is the small protocol-6 provider of ``tests/providers/fake_provider.py``,
served from a filesystem mirror as ``hashicorp/fake``; everything else is the real stack.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner

from cli.providers import app as providers_cli
from providers.models import Platform
from tests.changes.test_references_and_failures import settled
from tests.support.stack import IntentStack, run_stack

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]


def fake_mirror(root: Path) -> Path:
    """A mirror holding ``hashicorp/fake`` 0.1.0; returns the provider executable."""
    package = (
        root / "registry.terraform.io" / "hashicorp" / "fake" / "0.1.0" / str(Platform.current())
    )
    package.mkdir(parents=True)
    binary = package / "terraform-provider-fake_v0.1.0_x6"
    binary.write_text(
        f"#!{sys.executable}\n"
        "import runpy, sys\n"
        f"sys.path.insert(0, {str(REPO)!r})\n"
        "runpy.run_module('tests.providers.fake_provider', run_name='__main__')\n"
    )
    binary.chmod(0o755)
    (package / "LICENSE.txt").write_text("test\n")
    return binary


def fake_provider_settings(tmp_path: Path, provider_runtime_dir: Path) -> dict[str, Any]:
    """A stack's overrides for the fake provider of ``fake_mirror(tmp_path / "mirror")``."""
    return {
        "provider_mirrors": [tmp_path / "mirror"],
        "provider_runtime_dir": provider_runtime_dir,
        "registry_url": "http://127.0.0.1:9",
        # The fake provider runs on this test's Python, which lives in root's private
        # home: it can only run as the worker's own user (root, when the tests are).
        "provider_user": "",
        "provider_allow_root": True,
    }


async def _change(http: httpx.AsyncClient, project: str, name: str) -> dict[str, Any]:
    response = await http.post(
        f"/api/v1/projects/{project}/changes",
        json={
            "operations": [
                {
                    "kind": "create",
                    "resource_id": name,
                    "resource_type": "fake_thing",
                    "config": {"name": name},
                }
            ],
            "wait_seconds": 60,
        },
    )
    assert response.status_code in (200, 201, 202), response.text
    return await settled(http, response.json()["change_id"])


async def test_lock_recorded_then_a_swapped_binary_is_refused(
    temporal_env: WorkflowEnvironment, tmp_path: Path, provider_runtime_dir: Path
) -> None:
    binary = fake_mirror(tmp_path / "mirror")
    async with run_stack(
        temporal_env, tmp_path, **fake_provider_settings(tmp_path, provider_runtime_dir)
    ) as stack:
        alice = await stack.http("alice")
        await alice.post("/api/v1/projects", json={"name": "locked"})
        await alice.post("/api/v1/projects/locked/lock")
        first = await _change(alice, "locked", "one")
        assert first["status"] == "applied", first

        locks = (await alice.get("/api/v1/projects/locked/provider-locks")).json()
        assert [(e["provider"], e["version"]) for e in locks] == [
            ("registry.opentofu.org/hashicorp/fake", "0.1.0")
        ]
        recorded = locks[0]["hashes"]
        assert len(recorded) == 1 and recorded[0].startswith("h1:")

        # Someone swaps the binary on disk (a new file renamed into place).
        swapped = binary.with_name("swap")
        swapped.write_text(binary.read_text() + "# changed\n")
        swapped.chmod(0o755)
        os.replace(swapped, binary)

        refused = await _change(alice, "locked", "two")
        assert refused["status"] == "invalid", refused
        assert "does not match this project's provider lock" in refused["message"]
        assert str(binary) in refused["message"]

        # Only an admin may accept the new package; history keeps both hashes.
        denied = await alice.post(
            "/api/v1/projects/locked/provider-locks", json={"provider": "hashicorp/fake"}
        )
        assert denied.status_code == 403, denied.text
        await _update_with_cli(stack)
        entries = (
            await alice.get("/api/v1/projects/locked/history", params={"limit": 200})
        ).json()["entries"]
        update = next(e for e in entries if e["subject"] == "provider-lock")
        assert update["actor"] == "root-admin"
        assert update["before"]["hashes"] == recorded
        assert update["after"]["hashes"] != recorded

        again = await _change(alice, "locked", "three")
        assert again["status"] == "applied", again


async def _update_with_cli(stack: IntentStack) -> None:
    token = await stack.token("root-admin", ["space-admin"])
    env = {"INTENT_URL": stack.base_url, "INTENT_TOKEN": token}
    runner = CliRunner()
    # CliRunner runs in this thread; the server answers from the event loop in another.
    import asyncio

    shown = await asyncio.to_thread(
        runner.invoke, providers_cli, ["lock", "locked", "--update", "hashicorp/fake"], env=env
    )
    assert shown.exit_code == 0, shown.output
    assert "registry.opentofu.org/hashicorp/fake 0.1.0" in shown.output
    assert "h1:" in shown.output
