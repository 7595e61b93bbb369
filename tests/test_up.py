"""``intent up`` as users run it: a subprocess that starts and stops the whole stack."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import time
from pathlib import Path

import httpx
import pytest

from tests.api.mcp_client import mcp_client
from tests.support.providers import mirror_roots
from tests.support.up import PORT_FLAGS, Up, alive, child_running, descendants

pytestmark = pytest.mark.slow


async def test_up_starts_everything_and_stops_cleanly(tmp_path: Path) -> None:
    data = tmp_path / "data"
    # Offline: the sandbox's AWS provider comes from the machine's mirror.
    mirrors = {"INTENT_PROVIDER_MIRRORS": ":".join(str(p) for p in mirror_roots())}
    first = Up(data, env=mirrors)
    try:
        first.wait_ready()
        text = "".join(first.output)
        link = re.search(r"(http://\S+/ui/setup\?token=(\S+))", text)
        assert link and link.group(1).startswith(first.base), text
        password = "a long admin password"
        async with httpx.AsyncClient() as http:
            setup = await http.get(link.group(1))
            assert "setting the password of <strong>admin</strong>" in setup.text
            done = await http.post(
                f"{first.base}/ui/setup",
                data={"token": link.group(2), "password": password, "confirm": password},
            )
            assert done.status_code == 303 and "intent_session" in done.cookies
            again = await http.get(link.group(1))
            assert again.status_code == 410  # the link works once
        # People make their own keys once signed in; the host admin makes a machine's.
        key = await asyncio.to_thread(first.api_key, "ci", "space-writer")
        for needle in (f"{first.base}/mcp", f"{first.base}/", f"127.0.0.1:{first.ui_port}"):
            assert needle in text
        async with httpx.AsyncClient() as http:
            health = await http.get(f"{first.base}/healthz")
            assert health.json() == {
                "status": "ok",
                "database": "ok",
                "temporal": "ok",
                "workers": "ok",
                "pools": {},  # no project names a worker pool
                "instance": health.json()["instance"],
            }
            ui = await http.get(f"http://127.0.0.1:{first.ui_port}/")
            assert ui.status_code == 200
        async with mcp_client(f"{first.base}/mcp", key) as client:
            created = await client.call_tool("project-create", {"name": "survivor"})
            assert not created.is_error, created.content
            used = await client.call_tool("project-use", {"project": "survivor"})
            assert not used.is_error, used.content
            # The sandbox: an AWS integration on the local moto server, its role assumed
            # for the change like any other.
            listed = await client.call_tool("integration-list", {})
            assert listed.structured_content is not None
            attached = listed.structured_content["attached"]
            assert [(a["integration"], a["sandbox"], a["write"]) for a in attached] == [
                ("sandbox", True, True)
            ]
            bucket = {"resource_id": "b", "resource_type": "aws_s3_bucket", "config": {}}
            applied = await client.call_tool(
                "lifecycle-resources-create",
                {"resources": [{**bucket, "config": {"bucket": "survivor-bucket"}}]},
            )
            assert applied.structured_content is not None, applied.content
            assert applied.structured_content["status"] == "applied", applied.structured_content
        # A crashed worker is restarted; the stack keeps serving.
        worker = child_running(first.process.pid, "worker")
        assert worker is not None
        os.kill(worker, signal.SIGKILL)
        async with httpx.AsyncClient() as http:
            for _ in range(150):
                replacement = child_running(first.process.pid, "worker")
                health = (await http.get(f"{first.base}/healthz")).json()
                if replacement not in (None, worker) and health["workers"] == "ok":
                    break
                await asyncio.sleep(0.2)
            assert replacement not in (None, worker), "worker was not restarted"
        children = descendants(first.process.pid)
        assert len(children) >= 4  # temporal, sandbox, worker, server
    finally:
        code = first.stop()
    assert code == 0, "".join(first.output)
    await asyncio.sleep(0.5)
    assert not [pid for pid in children if alive(pid)], "children outlived intent up"

    second = Up(data)
    try:
        second.wait_ready()
        assert "/ui/setup" not in "".join(second.output)  # printed once, on first start
        async with httpx.AsyncClient(headers={"Authorization": f"Bearer {key}"}) as http:
            project = (await http.get(f"{second.base}/api/v1/projects/survivor")).json()
            assert project["name"] == "survivor"
            # The lease lives in Temporal's SQLite file, so it survived the restart too.
            assert project["lock"]["holder"] == "ci"
    finally:
        assert second.stop() == 0


# What `intent up` starts (see cli/stack.py); anything else below it is not a stack
# child (e.g. `ldconfig -p`, which ctypes runs while a module is imported).
STACK_CHILDREN = (b"start-dev", b"moto.server", b"cli\0worker", b"cli\0server")


def _stack_children(pid: int) -> set[str]:
    found = set()
    for child in descendants(pid):
        with contextlib.suppress(OSError):
            argv = Path(f"/proc/{child}/cmdline").read_bytes()
            if any(marker in argv for marker in STACK_CHILDREN):
                found.add(argv.replace(b"\0", b" ").decode(errors="replace").strip())
    return found


def _refused(up: Up, timeout: float = 5.0) -> tuple[int, str, set[str]]:
    """Wait for a refused ``intent up`` to exit; (exit code, output, the stack children
    it ever had)."""
    seen: set[str] = set()
    deadline = time.monotonic() + timeout
    while up.process.poll() is None and time.monotonic() < deadline:
        seen |= _stack_children(up.process.pid)
        time.sleep(0.02)
    if up.process.poll() is None:
        up.process.kill()
        up.process.wait(10)
        raise AssertionError(f"intent up was still running after {timeout}s")
    assert up.process.stdout is not None
    return up.process.returncode, up.process.stdout.read(), seen


async def test_up_refuses_what_a_running_stack_holds(tmp_path: Path) -> None:
    """Each port of a running stack, then its data dir: refused at once, nothing started,
    and the running stack untouched."""
    running = Up(tmp_path / "running")
    try:
        running.wait_ready()
        temporal_log = running.data_dir / "temporal.log"
        before = temporal_log.stat()
        cases: list[tuple[dict[str, int], Path, list[str]]] = [
            (
                {attribute: getattr(running, attribute)},
                tmp_path / f"new-{attribute}",
                [str(getattr(running, attribute)), flag],
            )
            for attribute, flag in PORT_FLAGS.items()
        ]
        cases.append(({}, running.data_dir, [str(running.data_dir), "--data-dir"]))
        for ports, data_dir, needles in cases:
            code, output, children = _refused(Up(data_dir, ports=ports))
            assert code != 0, output
            for needle in needles:
                assert needle in output, (needle, output)
            assert "intent is up" not in output
            assert not children, f"started {children} before refusing:\n{output}"
            if data_dir != running.data_dir:
                assert not list(data_dir.glob("*.log")), output
                assert not (data_dir / "intent.db").exists(), output
        after = temporal_log.stat()
        assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)
        async with httpx.AsyncClient() as http:
            health = (await http.get(f"{running.base}/healthz")).json()
        assert health["status"] == "ok", health
    finally:
        assert running.stop() == 0
