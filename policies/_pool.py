"""A small pool of warm policy worker processes with a deadline on every item.

A request carries several items (policies or tests); the worker answers one frame per
item and the pool gives each item its own deadline. When an item overruns, the worker
is killed (it cannot be interrupted: regorus holds its interpreter) and the remaining
items continue on a fresh worker. The pool is thread-safe: a caller checks a worker out
for the whole request, so concurrent evaluations run in parallel processes.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from policies._worker import encode_frame

__all__ = ["ItemOutcome", "PolicyWorkerPool", "default_pool"]

_log = logging.getLogger(__name__)
_HEADER_SIZE = 4
_READ_CHUNK = 1 << 16
_DEFAULT_MEMORY_LIMIT = 2 << 30  # address space per worker; a runaway allocation fails fast

_BOOTSTRAP = (
    "import json, sys; sys.path[:0] = json.loads(sys.argv[1]); "
    "from policies._worker import main; raise SystemExit(main(sys.argv[2:]))"
)


class WorkerError(RuntimeError):
    """A worker process could not start, or went away."""


@dataclass(frozen=True)
class ItemOutcome:
    """What became of one item: its frame, or why there is none."""

    frame: dict[str, Any] | None
    timed_out: bool = False
    crashed: str | None = None  # how the worker died, when it did
    elapsed_s: float = 0.0


class _Worker:
    def __init__(self, memory_limit: int, startup_timeout: float) -> None:
        self.memory_limit = memory_limit
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-I",
                "-c",
                _BOOTSTRAP,
                json.dumps(_import_roots()),
                str(memory_limit),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=_worker_environment(),
            close_fds=True,
            start_new_session=True,  # a terminal's Ctrl-C reaches the parent only
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self._stdin = self.process.stdin
        # regorus writes diagnostics to stderr; they go to our log, the last few are kept
        # to explain a crash.
        self.stderr_tail: deque[str] = deque(maxlen=20)
        self._stderr_reader = threading.Thread(
            target=self._drain_stderr, name=f"policy-worker-{self.process.pid}-stderr", daemon=True
        )
        self._stderr_reader.start()
        self._fd = self.process.stdout.fileno()
        self._poll = select.poll()
        self._poll.register(self._fd, select.POLLIN | select.POLLHUP | select.POLLERR)
        self._buffer = bytearray()
        try:
            hello = self.recv(time.monotonic() + startup_timeout)
        except WorkerError as exc:
            hello, problem = None, str(exc)
        else:
            problem = "it did not announce itself in time"
        if hello is None or not hello.get("ready"):
            self.kill()
            self._stderr_reader.join(timeout=1.0)
            _log.error("policy worker failed to start: %s", " | ".join(self.stderr_tail))
            raise WorkerError(f"the policy worker did not start: {problem}")

    def _drain_stderr(self) -> None:
        stream = self.process.stderr
        assert stream is not None
        with stream:
            for raw in stream:
                line = raw.decode(errors="replace").rstrip()
                if line:
                    self.stderr_tail.append(line)
                    _log.debug("policy worker %d: %s", self.process.pid, line)

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def send(self, value: object) -> None:
        try:
            self._stdin.write(encode_frame(value))
            self._stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            raise WorkerError(f"the policy worker is gone ({exc})") from exc

    def recv(self, deadline: float | None) -> dict[str, Any] | None:
        """The next frame, or None when the deadline passes first; WorkerError on EOF."""
        while True:
            frame = self._take_frame()
            if frame is not None:
                return frame
            if deadline is None:
                timeout_ms = -1
            else:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                timeout_ms = max(1, int(remaining * 1000) + 1)
            if not self._poll.poll(timeout_ms):
                continue  # re-check the deadline
            chunk = os.read(self._fd, _READ_CHUNK)
            if not chunk:
                raise WorkerError(self.exit_description())
            self._buffer += chunk

    def _take_frame(self) -> dict[str, Any] | None:
        if len(self._buffer) < _HEADER_SIZE:
            return None
        length = int.from_bytes(self._buffer[:_HEADER_SIZE], "big")
        end = _HEADER_SIZE + length
        if len(self._buffer) < end:
            return None
        payload = bytes(self._buffer[_HEADER_SIZE:end])
        del self._buffer[:end]
        value: dict[str, Any] = json.loads(payload)
        return value

    def exit_description(self) -> str:
        try:
            code = self.process.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            return "the policy worker stopped answering"
        self._stderr_reader.join(timeout=1.0)  # its last words explain the death
        if any("memory allocation of" in line for line in self.stderr_tail):
            return f"it ran out of memory (the limit is {self.memory_limit >> 20} MiB)"
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            return f"the policy worker was killed by {name}"
        return f"the policy worker exited with status {code}"

    def kill(self) -> None:
        if self.alive:
            self.process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5.0)
        for stream in (self.process.stdin, self.process.stdout):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass


class PolicyWorkerPool:
    """Up to ``size`` warm worker processes, started on demand and replaced when killed."""

    def __init__(
        self,
        size: int | None = None,
        *,
        memory_limit_bytes: int = _DEFAULT_MEMORY_LIMIT,
        startup_timeout: float = 30.0,
    ) -> None:
        self.size = max(1, size if size is not None else min(4, os.cpu_count() or 1))
        self._memory_limit = memory_limit_bytes
        self._startup_timeout = startup_timeout
        self._idle: list[_Worker] = []
        self._count = 0
        self._closed = False
        self._pid = os.getpid()
        self._cond = threading.Condition()

    # -- checkout ---------------------------------------------------------------------
    def _acquire(self) -> _Worker:
        with self._cond:
            self._check_fork()
            while True:
                if self._closed:
                    raise WorkerError("the policy worker pool is closed")
                while self._idle:
                    worker = self._idle.pop()
                    if worker.alive:
                        return worker
                    worker.kill()
                    self._count -= 1
                if self._count < self.size:
                    self._count += 1
                    break
                self._cond.wait()
        try:  # start outside the lock: other callers keep using the warm workers
            return _Worker(self._memory_limit, self._startup_timeout)
        except BaseException:
            with self._cond:
                self._count -= 1
                self._cond.notify()
            raise

    def _release(self, worker: _Worker, *, discard: bool) -> None:
        if discard:
            worker.kill()
        with self._cond:
            if os.getpid() != self._pid:
                return
            if discard or self._closed:
                self._count -= 1
                if not discard:
                    worker.kill()
            else:
                self._idle.append(worker)
            self._cond.notify()

    def _check_fork(self) -> None:
        # A forked child must not share the parent's pipes: start afresh (caller holds lock).
        if os.getpid() != self._pid:
            self._pid = os.getpid()
            self._idle = []
            self._count = 0
            self._closed = False

    def warm(self, count: int = 1) -> None:
        """Start up to ``count`` workers now (so the first evaluation does not pay for it)."""
        workers = [self._acquire() for _ in range(min(count, self.size))]
        for worker in workers:
            self._release(worker, discard=False)

    # -- requests ---------------------------------------------------------------------
    def run(
        self,
        request: dict[str, Any],
        item_count: int,
        timeout_s: float,
        on_item: Callable[[int, ItemOutcome], None] | None = None,
    ) -> list[ItemOutcome]:
        """Send ``request``; one outcome per item, each item limited to ``timeout_s``.

        After a timeout or crash on item *k*, the items after *k* (``request["items"]``
        or ``request["tests"]``) go to a fresh worker. ``on_item`` sees outcomes as they
        arrive (the test runner reports progress with it).
        """
        key = "items" if "items" in request else "tests"
        pending = list(request[key])
        if len(pending) != item_count:
            raise ValueError("item_count does not match the request")
        request = {**request, "backstop_s": timeout_s * 2 + 1.0}
        outcomes: list[ItemOutcome] = []

        def record(outcome: ItemOutcome) -> None:
            pending.pop(0)
            if on_item is not None:
                on_item(len(outcomes), outcome)
            outcomes.append(outcome)

        sends_failed = 0
        while pending:
            worker = self._acquire()
            discard = True
            try:
                try:
                    worker.send({**request, key: pending})
                except WorkerError:
                    if sends_failed:
                        raise
                    sends_failed += 1  # it died while idle: once more on a fresh one
                    continue
                discard = not self._collect(worker, len(pending), timeout_s, record)
            finally:
                self._release(worker, discard=discard)
        return outcomes

    @staticmethod
    def _collect(
        worker: _Worker, count: int, timeout_s: float, record: Callable[[ItemOutcome], None]
    ) -> bool:
        """Read ``count`` answers; False when the worker had to go (overrun or crash)."""
        started = time.monotonic()
        for _ in range(count):
            try:
                frame = worker.recv(started + timeout_s)
            except WorkerError as exc:
                # Our own backstop (SIGALRM) firing means the item ran out of time.
                overran = worker.process.returncode == -signal.SIGALRM
                if not overran:
                    _log.warning(
                        "%s; its last words: %s", exc, " | ".join(worker.stderr_tail) or "none"
                    )
                record(
                    ItemOutcome(
                        None,
                        timed_out=overran,
                        crashed=None if overran else str(exc),
                        elapsed_s=time.monotonic() - started,
                    )
                )
                return False
            now = time.monotonic()
            record(ItemOutcome(frame, timed_out=frame is None, elapsed_s=now - started))
            if frame is None:
                return False
            started = now
        return True

    def close(self) -> None:
        """Stop every idle worker; busy ones stop when their caller releases them."""
        with self._cond:
            self._closed = True
            idle, self._idle = self._idle, []
            self._count -= len(idle)
            self._cond.notify_all()
        for worker in idle:
            worker.kill()


def _import_roots() -> list[str]:
    """Where the worker finds ``policies`` and ``regorus`` (it runs isolated: ``-I``)."""
    import regorus

    roots = [str(Path(__file__).resolve().parent.parent)]
    regorus_root = str(Path(regorus.__file__).resolve().parent.parent)
    if regorus_root not in roots:
        roots.append(regorus_root)
    return roots


def _worker_environment() -> dict[str, str]:
    # Policies must not see the server's secrets: the worker gets a bare environment
    # (RUST_BACKTRACE stays unset too, which keeps errors cheap and short).
    env = {"PATH": os.defpath, "LC_ALL": "C.UTF-8"}
    if "SYSTEMROOT" in os.environ:  # pragma: no cover - Windows needs it to start Python
        env["SYSTEMROOT"] = os.environ["SYSTEMROOT"]
    return env


_default_pool: PolicyWorkerPool | None = None
_default_lock = threading.Lock()


def default_pool() -> PolicyWorkerPool:
    """The process-wide pool (sized for a server: min(4, CPUs) workers)."""
    global _default_pool
    with _default_lock:
        if _default_pool is None:
            _default_pool = PolicyWorkerPool()
            atexit.register(_default_pool.close)
        return _default_pool


def _forget_default_pool() -> None:
    # In a forked child the parent's workers are not ours, and the lock may be held by a
    # thread that does not exist here.
    global _default_pool, _default_lock
    _default_pool = None
    _default_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_default_pool)
