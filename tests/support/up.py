"""``intent up`` as a user runs it: a subprocess, and what it started below it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

from tests.support.stack import free_port

__all__ = ["PORT_FLAGS", "Up", "alive", "child_running", "descendants"]


def descendants(pid: int) -> set[int]:
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


def child_running(parent: int, role: str) -> int | None:
    """The live `python -m cli ROLE` child of ``parent``."""
    for pid in descendants(parent):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        # argv ends with b"ROLE", b"" (cmdline is NUL-terminated)
        if role.encode() in argv[-2:] and alive(pid):
            return pid
    return None


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


PORT_FLAGS = {
    "port": "--port",
    "temporal_port": "--temporal-port",
    "ui_port": "--temporal-ui-port",
    "sandbox_port": "--sandbox-port",
}


class Up:
    def __init__(
        self,
        data_dir: Path,
        *,
        env: Mapping[str, str] | None = None,
        ports: Mapping[str, int] | None = None,
    ) -> None:
        """``ports`` may fix some of ``PORT_FLAGS``' keys; the others are free ports."""
        self.data_dir = data_dir
        chosen = dict(ports or {})
        self.port = chosen.get("port") or free_port()
        self.temporal_port = chosen.get("temporal_port") or free_port()
        self.ui_port = chosen.get("ui_port") or free_port()
        self.sandbox_port = chosen.get("sandbox_port") or free_port()
        # Only what the test says: no INTENT_* of the shell running the tests.
        environment = {k: v for k, v in os.environ.items() if not k.startswith("INTENT_")}
        environment.update(env or {})
        argv = [sys.executable, "-m", "cli", "up", "--data-dir", str(data_dir)]
        for attribute, flag in PORT_FLAGS.items():
            argv += [flag, str(getattr(self, attribute))]
        self.process = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=environment
        )
        self.output: list[str] = []

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def api_key(self, name: str, *roles: str) -> str:
        """An API key of machine identity ``name`` (created with ``roles`` if new), as the
        host admin makes one (people make their own once signed in)."""
        argv = [sys.executable, "-m", "cli", "tokens", "create", "--name", name]
        argv += [f"--role={role}" for role in roles]
        done = subprocess.run(
            [*argv, "--data-dir", str(self.data_dir)],
            capture_output=True,
            text=True,
            check=True,
            env={k: v for k, v in os.environ.items() if not k.startswith("INTENT_")},
        )
        return done.stdout.strip()

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
