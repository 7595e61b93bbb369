"""``intent up`` as users run it: a subprocess that starts and stops the whole stack."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.api.mcp_client import mcp_client
from tests.support.stack import free_port

pytestmark = pytest.mark.slow


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _child_running(parent: int, role: str) -> int | None:
    """The live `python -m cli ROLE` child of ``parent``."""
    for pid in _descendants(parent):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        # argv ends with b"ROLE", b"" (cmdline is NUL-terminated)
        if role.encode() in argv[-2:] and _alive(pid):
            return pid
    return None


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


class Up:
    def __init__(self, data_dir: Path) -> None:
        self.port, self.temporal_port, self.ui_port = free_port(), free_port(), free_port()
        self.sandbox_port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("INTENT_")}
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cli",
                "up",
                "--data-dir",
                str(data_dir),
                "--port",
                str(self.port),
                "--temporal-port",
                str(self.temporal_port),
                "--temporal-ui-port",
                str(self.ui_port),
                "--sandbox-port",
                str(self.sandbox_port),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        self.output: list[str] = []

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 120) -> None:
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            self.output.append(line)
            if "Press Ctrl-C" in line:
                return
        raise AssertionError("intent up did not come up:\n" + "".join(self.output))

    def stop(self) -> int:
        self.process.send_signal(signal.SIGINT)
        code = self.process.wait(60)
        assert self.process.stdout is not None
        self.output.append(self.process.stdout.read())
        return code


async def test_up_starts_everything_and_stops_cleanly(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = Up(data)
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
        made = await asyncio.to_thread(
            subprocess.run,
            [
                sys.executable,
                "-m",
                "cli",
                "tokens",
                "create",
                "--name",
                "admin",
                "--data-dir",
                str(data),
            ],
            capture_output=True,
            text=True,
            check=True,
            env={k: v for k, v in os.environ.items() if not k.startswith("INTENT_")},
        )
        key = made.stdout.strip()
        for needle in (f"{first.base}/mcp", f"{first.base}/", f"127.0.0.1:{first.ui_port}"):
            assert needle in text
        async with httpx.AsyncClient() as http:
            health = await http.get(f"{first.base}/healthz")
            assert health.json() == {
                "status": "ok",
                "database": "ok",
                "temporal": "ok",
                "workers": "ok",
            }
            ui = await http.get(f"http://127.0.0.1:{first.ui_port}/")
            assert ui.status_code == 200
        async with mcp_client(f"{first.base}/mcp", key) as client:
            created = await client.call_tool("project-create", {"name": "survivor"})
            assert not created.is_error, created.content
            used = await client.call_tool("project-use", {"project": "survivor"})
            assert not used.is_error, used.content
        # A crashed worker is restarted; the stack keeps serving.
        worker = _child_running(first.process.pid, "worker")
        assert worker is not None
        os.kill(worker, signal.SIGKILL)
        async with httpx.AsyncClient() as http:
            for _ in range(150):
                replacement = _child_running(first.process.pid, "worker")
                health = (await http.get(f"{first.base}/healthz")).json()
                if replacement not in (None, worker) and health["workers"] == "ok":
                    break
                await asyncio.sleep(0.2)
            assert replacement not in (None, worker), "worker was not restarted"
        children = _descendants(first.process.pid)
        assert len(children) >= 4  # temporal, sandbox, worker, server
    finally:
        code = first.stop()
    assert code == 0, "".join(first.output)
    await asyncio.sleep(0.5)
    assert not [pid for pid in children if _alive(pid)], "children outlived intent up"

    second = Up(data)
    try:
        second.wait_ready()
        assert "/ui/setup" not in "".join(second.output)  # printed once, on first start
        async with httpx.AsyncClient(headers={"Authorization": f"Bearer {key}"}) as http:
            project = (await http.get(f"{second.base}/api/v1/projects/survivor")).json()
            assert project["name"] == "survivor"
            # The lease lives in Temporal's SQLite file, so it survived the restart too.
            assert project["lock"]["holder"] == "admin"
    finally:
        assert second.stop() == 0
