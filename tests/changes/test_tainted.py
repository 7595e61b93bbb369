"""Terraform's semantics for a half-made object: a create that failed part-way leaves it
``tainted``, and the next change that touches it replaces it (confirmed like any other
replacement), saying why, instead of updating it in place.

The provider is the fake protocol-6 provider (``size = 13`` makes its create fail after
the object exists); everything else is the real stack.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from tests.changes.test_provider_lock import fake_mirror, fake_provider_settings
from tests.changes.test_references_and_failures import settled
from tests.support.stack import run_stack

pytestmark = pytest.mark.slow


async def test_a_tainted_object_is_replaced_by_the_next_change(
    temporal_env: WorkflowEnvironment, tmp_path: Path, provider_runtime_dir: Path
) -> None:
    fake_mirror(tmp_path / "mirror")
    async with run_stack(
        temporal_env, tmp_path, **fake_provider_settings(tmp_path, provider_runtime_dir)
    ) as stack:
        alice = await stack.http("alice")
        await alice.post("/api/v1/projects", json={"name": "taint"})
        await alice.post("/api/v1/projects/taint/lock")
        created = await alice.post(
            "/api/v1/projects/taint/changes",
            json={
                "operations": [
                    {
                        "kind": "create",
                        "resource_id": "thing",
                        "resource_type": "fake_thing",
                        "config": {"name": "thing", "size": 13},
                    }
                ],
                "wait_seconds": 60,
            },
        )
        change_id = created.json()["change_id"]
        failed = await settled(alice, change_id)
        assert failed["status"] == "failed", failed
        state = (await alice.get("/api/v1/projects/taint/resources/thing")).json()
        assert state["status"] == "tainted" and state["state"]["id"] == "id-thing"

        # Fixing the size would be an in-place update of a healthy object; this one is
        # half-made, so the retry replaces it and waits for confirmation, saying why.
        retried = await alice.post(
            f"/api/v1/changes/{change_id}/retry",
            json={"config_patches": {"thing": {"size": 2}}, "wait_seconds": 60},
        )
        waiting = retried.json()
        assert waiting["status"] == "awaiting_confirmation", waiting
        (operation,) = waiting["operations"]
        assert operation["action"] == "replace"
        assert any("tainted" in reason for reason in waiting["waiting_for"]), waiting

        confirmed = await alice.post(
            f"/api/v1/changes/{change_id}/confirm", json={"wait_seconds": 60}
        )
        done = confirmed.json()
        assert done["status"] == "applied", done
        state = (await alice.get("/api/v1/projects/taint/resources/thing")).json()
        assert state["status"] == "active" and state["state"]["size"] == 2
