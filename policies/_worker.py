"""The policy worker: a child process that evaluates Rego for the parent's pool.

Why a process: regorus evaluates while holding the GIL and has no execution limit in
its Python binding, so a runaway policy would freeze every thread of the server or the
Temporal worker. The parent kills this process when a policy overruns its limit.

Protocol (stdin/stdout, binary): frames of a 4-byte big-endian length and a UTF-8 JSON
object. The worker announces ``{"ready": true}``, then answers each request with one
frame per item, in order, so the parent can apply a deadline to each item separately.

Requests:
- ``{"op": "intent", "items": [{"body", "v0", "whole"}], "input": "<json>", "now_ns",
  "backstop_s"}``: evaluate Intent policies independently; one frame per item.
- ``{"op": "tests", "modules": [[path, body]], "v0", "tests": [rule path],
  "backstop_s"}``: run test rules on one engine; one frame per test.

Only the standard library and ``regorus`` are imported (start-up stays cheap).
"""

from __future__ import annotations

import json
import os
import signal
import struct
import sys
import time
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, BinaryIO

from policies import _rego

_HEADER = struct.Struct(">I")
_ENGINE_CACHE_SIZE = 128


def read_frame(stream: BinaryIO) -> dict[str, Any] | None:
    header = _read_exactly(stream, _HEADER.size)
    if header is None:
        return None
    (length,) = _HEADER.unpack(header)
    payload = _read_exactly(stream, length)
    if payload is None:
        return None
    value: dict[str, Any] = json.loads(payload)
    return value


def _read_exactly(stream: BinaryIO, size: int) -> bytes | None:
    chunks: list[bytes] = []
    while size:
        chunk = stream.read(size)
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def encode_frame(value: object) -> bytes:
    payload = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
    return _HEADER.pack(len(payload)) + payload


class _Worker:
    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        # Prepared engines keyed by (v0, body): each evaluation clones one, which costs far
        # less than parsing the policy again.
        # Prepared engines by (v0, body), with the Intent rules each policy defines.
        self._engines: OrderedDict[tuple[bool, str], tuple[Any, tuple[str, ...]]] = OrderedDict()

    def send(self, value: object) -> None:
        self._out.write(encode_frame(value))
        self._out.flush()

    def _evaluate(self, item: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
        key = (bool(item.get("v0")), str(item["body"]))
        cached = self._engines.get(key)
        if cached is not None:
            self._engines.move_to_end(key)
            engine, rules = _rego.clone(cached[0]), cached[1]
        else:
            try:
                engine = _rego.new_engine([(_rego.POLICY_FILE, key[1])], v0=key[0])
            except Exception as exc:
                error = _rego.strip_backtrace(str(exc))
                return {"packages": [], "rules": None, "prints": [], "error": error}
            rules = _rego.defined_intent_rules(engine)
        result = _rego.evaluate_intent_rules(
            engine,
            request["input"],
            now_ns=int(request.get("now_ns", 0)),
            whole_package=bool(item.get("whole")),
            rules=rules,
        )
        if cached is None and result["error"] is None:
            # Cache the engine once it has evaluated: regorus prepares a module on its
            # first evaluation and clones keep that work (measured: a third of each
            # evaluation). Every clone gets its own input; no result survives in it.
            self._engines[key] = (engine, rules)
            if len(self._engines) > _ENGINE_CACHE_SIZE:
                self._engines.popitem(last=False)
        return result

    def intent(self, request: dict[str, Any]) -> None:
        for item in request["items"]:
            with _backstop(request.get("backstop_s")):
                started = time.perf_counter_ns()
                result = self._evaluate(item, request)
                result["elapsed_ns"] = time.perf_counter_ns() - started
            self.send(result)

    def tests(self, request: dict[str, Any]) -> None:
        with _backstop(request.get("backstop_s")):
            try:
                modules = [(str(p), str(b)) for p, b in request["modules"]]
                base = _rego.new_engine(modules, v0=bool(request.get("v0")))
            except Exception as exc:
                message = _rego.strip_backtrace(str(exc))
                for _ in request["tests"]:
                    self.send({"defined": False, "value": None, "prints": [], "error": message})
                return
        for rule in request["tests"]:
            with _backstop(request.get("backstop_s")):
                started = time.perf_counter_ns()
                result = _rego.run_test_rule(_rego.clone(base), rule)
                result["elapsed_ns"] = time.perf_counter_ns() - started
            self.send(result)


@contextmanager
def _backstop(seconds: object) -> Iterator[None]:
    """Kill this process (default SIGALRM action) if an item outlives the parent's deadline.

    The parent normally kills us first; this covers a parent that died or hangs. Python
    signal handlers cannot run while regorus holds the interpreter, the kernel's default
    action can.
    """
    limit = float(seconds) if isinstance(seconds, int | float) and seconds > 0 else 0.0
    if limit:
        signal.setitimer(signal.ITIMER_REAL, limit)
    try:
        yield
    finally:
        if limit:
            signal.setitimer(signal.ITIMER_REAL, 0)


def _limit_memory(limit_bytes: int) -> None:
    if limit_bytes <= 0:
        return
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (limit_bytes, limit_bytes))
    except (ImportError, ValueError, OSError):  # not on this platform; the timeout remains
        pass


def main(argv: list[str]) -> int:
    memory_limit = int(argv[0]) if argv else 0
    # Keep the protocol channel private: anything else writing to fd 1 (a stray print,
    # a native library) would corrupt the frames, so fd 1 becomes stderr.
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    stdin = sys.stdin.buffer
    signal.signal(signal.SIGALRM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C goes to the parent; it ends us
    _limit_memory(memory_limit)
    worker = _Worker(out)
    worker.send({"ready": True, "pid": os.getpid()})
    while True:
        request = read_frame(stdin)
        if request is None:  # the parent closed the pipe (or exited): we are done
            return 0
        op = request.get("op")
        if op == "intent":
            worker.intent(request)
        elif op == "tests":
            worker.tests(request)
        else:
            worker.send({"error": f"unknown op {op!r}"})


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
