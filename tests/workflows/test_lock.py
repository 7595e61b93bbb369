"""ProjectLockWorkflow on a real Temporal dev server, driven through the REST API."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from access.models import Principal
from api.context import AppContext, Caller, TemporalConnector
from api.errors import Busy
from api.services import locks
from store import history, projects
from tests.api.mcp_client import mcp_client
from tests.support.stack import IntentStack, run_stack
from workflows.lock import LockInput, ProjectLockWorkflow, lock_workflow_id


async def _project(http: httpx.AsyncClient, name: str) -> dict[str, Any]:
    response = await http.post("/api/v1/projects", json={"name": name})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def _mirror_matches(http: httpx.AsyncClient, name: str) -> dict[str, Any]:
    """The database mirror (project view) agrees with the workflow's own lease."""
    live: dict[str, Any] = (await http.get(f"/api/v1/projects/{name}/lock")).json()
    mirrored = (await http.get(f"/api/v1/projects/{name}")).json()["lock"]
    assert mirrored == live
    return live


async def test_two_actors_race_and_exactly_one_wins(stack: IntentStack) -> None:
    alice = await stack.http("alice")
    bob = await stack.http("bob")
    await _project(alice, "race")
    first, second = await asyncio.gather(
        alice.post("/api/v1/projects/race/lock"), bob.post("/api/v1/projects/race/lock")
    )
    codes = sorted([first.status_code, second.status_code])
    assert codes == [200, 423], (first.text, second.text)
    winner, loser = (first, second) if first.status_code == 200 else (second, first)
    holder = winner.json()["project"]["lock"]["holder"]
    assert holder in {"alice", "bob"}
    message = loser.json()["message"]
    assert f"locked by {holder} until" in message
    assert "ask" in message  # names the way out
    lock = await _mirror_matches(alice, "race")
    assert lock["locked"] and lock["holder"] == holder


async def test_renew_extends_release_frees_and_history_names_actors(stack: IntentStack) -> None:
    alice = await stack.http("alice")
    bob = await stack.http("bob")
    await _project(alice, "renewal")
    taken = (await alice.post("/api/v1/projects/renewal/lock")).json()["project"]["lock"]
    await asyncio.sleep(0.3)
    renewed = await alice.post("/api/v1/projects/renewal/lock/renew")
    assert renewed.status_code == 200
    assert datetime.fromisoformat(renewed.json()["expires_at"]) > datetime.fromisoformat(
        taken["expires_at"]
    )
    # Only the holder may renew or release.
    assert (await bob.post("/api/v1/projects/renewal/lock/renew")).status_code == 423
    assert (await bob.delete("/api/v1/projects/renewal/lock")).status_code == 423
    await _mirror_matches(alice, "renewal")

    released = await alice.delete("/api/v1/projects/renewal/lock")
    assert released.status_code == 200 and not released.json()["project"]["lock"]["locked"]
    assert not (await _mirror_matches(alice, "renewal"))["locked"]
    # Releasing again: nobody holds it, which the error says.
    again = await alice.delete("/api/v1/projects/renewal/lock")
    assert again.status_code == 409 and "project-use" in again.json()["message"]

    assert (await bob.post("/api/v1/projects/renewal/lock")).status_code == 200
    entries = (await alice.get("/api/v1/projects/renewal/history")).json()["entries"]
    seen = [(e["subject"], e["operation"], e["actor"]) for e in entries]
    assert seen == [
        ("lock", "acquire", "bob"),
        ("lock", "release", "alice"),
        ("lock", "acquire", "alice"),
        ("project", "create", "alice"),
    ]


async def test_lease_expires_after_inactivity(
    temporal_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    async with run_stack(temporal_env, tmp_path, lock_lease_seconds=1.5) as short:
        alice = await short.http("alice")
        bob = await short.http("bob")
        await _project(alice, "expiry")
        assert (await alice.post("/api/v1/projects/expiry/lock")).status_code == 200
        assert (await bob.post("/api/v1/projects/expiry/lock")).status_code == 423
        await asyncio.sleep(2.5)
        lock = await _mirror_matches(alice, "expiry")
        assert not lock["locked"]
        entries = (await alice.get("/api/v1/projects/expiry/history")).json()["entries"]
        assert entries[0]["operation"] == "expire" and entries[0]["actor"] == "system"
        assert (await bob.post("/api/v1/projects/expiry/lock")).status_code == 200


async def test_force_release_needs_admin(stack: IntentStack) -> None:
    alice = await stack.http("alice")
    bob = await stack.http("bob")
    root = await stack.http("root", roles=["space-admin"])
    await _project(alice, "forced")
    await alice.post("/api/v1/projects/forced/lock")
    denied = await bob.delete("/api/v1/projects/forced/lock", params={"force": "true"})
    assert denied.status_code == 403 and "needs intent-project:unlock" in denied.json()["message"]
    assert (await _mirror_matches(alice, "forced"))["holder"] == "alice"
    freed = await root.delete("/api/v1/projects/forced/lock", params={"force": "true"})
    assert freed.status_code == 200
    assert not (await _mirror_matches(alice, "forced"))["locked"]
    entries = (await alice.get("/api/v1/projects/forced/history")).json()["entries"]
    assert (entries[0]["operation"], entries[0]["actor"]) == ("force_release", "root")


async def test_continue_as_new_keeps_the_lease(stack: IntentStack) -> None:
    alice = await stack.http("alice")
    project = await _project(alice, "long-lived")
    # Start the lock with a tiny history budget so continue-as-new happens quickly.
    handle = await stack.client.start_workflow(
        ProjectLockWorkflow.run,
        LockInput(project_id=project["id"], project_name="long-lived", max_history=25),
        id=lock_workflow_id(project["id"]),
        task_queue=stack.settings.temporal_task_queue,
    )
    first_run = handle.result_run_id
    assert (await alice.post("/api/v1/projects/long-lived/lock")).status_code == 200
    for _ in range(12):
        assert (await alice.post("/api/v1/projects/long-lived/lock/renew")).status_code == 200
    description = await stack.client.get_workflow_handle(handle.id).describe()
    assert description.run_id != first_run
    lock = await _mirror_matches(alice, "long-lived")
    assert lock["locked"] and lock["holder"] == "alice"
    async with stack.db.session() as session:
        rows = await history.list_history(session, project_id=project["id"])
    # Renewals are quiet: one acquire, no matter how many runs the lock went through.
    assert [r.operation for r in rows if r.subject == "lock"] == ["acquire"]


async def test_lock_service_translates_busy_into_actionable_error(stack: IntentStack) -> None:
    app_ctx = AppContext(stack.settings, stack.db, TemporalConnector(stack.settings, stack.client))
    alice = Caller(app_ctx, Principal(id="a", name="alice"))
    bob = Caller(app_ctx, Principal(id="b", name="bob"))
    async with stack.db.transaction() as session:
        project = await projects.create_project(session, name="svc", created_by="a")
    lease = await locks.acquire(alice, project)
    assert lease.held and lease.holder and lease.holder.name == "alice"
    with pytest.raises(Busy, match="locked by alice until"):
        await locks.acquire(bob, project)


async def test_activity_on_the_project_renews_the_lease(
    temporal_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    async with run_stack(temporal_env, tmp_path, lock_lease_seconds=2.0) as short:
        alice = await short.http("alice")
        await _project(alice, "busy")
        first = (await alice.post("/api/v1/projects/busy/lock")).json()["project"]["lock"]
        for _ in range(4):  # 4 s of activity: longer than the 2 s lease
            await asyncio.sleep(1)
            assert (await alice.get("/api/v1/projects/busy/resources")).status_code == 200
        lock = await _mirror_matches(alice, "busy")
        assert lock["locked"] and lock["holder"] == "alice"
        assert lock["expires_at"] > first["expires_at"]
        # Someone else looking does not keep alice's lease alive.
        bob = await short.http("bob")
        for _ in range(3):
            await asyncio.sleep(1)
            await bob.get("/api/v1/projects/busy/resources")
        assert not (await _mirror_matches(alice, "busy"))["locked"]


async def test_reads_of_the_holder_renew_the_lease_on_every_door(
    temporal_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    """The issue's drill: the holder only reads (project view, history, an MCP tool),
    longer than the lease; another identity still cannot take the lock."""
    async with run_stack(temporal_env, tmp_path, lock_lease_seconds=2.0) as short:
        alice = await short.http("alice")
        bob = await short.http("bob")
        await _project(alice, "reader")
        assert (await alice.post("/api/v1/projects/reader/lock")).status_code == 200
        token = await short.token("alice")
        async with mcp_client(short.mcp_url, token) as client:
            for step in range(8):  # 4 s of reads: twice the lease
                await asyncio.sleep(0.5)
                if step % 3 == 0:
                    assert (await alice.get("/api/v1/projects/reader")).status_code == 200
                elif step % 3 == 1:
                    assert (await alice.get("/api/v1/projects/reader/history")).status_code == 200
                else:
                    result = await client.call_tool("state-list", {"project": "reader"})
                    assert not result.is_error
                taken = await bob.post("/api/v1/projects/reader/lock")
                assert taken.status_code == 423, taken.text
        await asyncio.sleep(2.5)  # now alice is quiet: the lease lapses
        assert (await bob.post("/api/v1/projects/reader/lock")).status_code == 200
