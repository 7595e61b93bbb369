"""Run the ``test_*`` rules of ``*_test.rego`` files, as ``opa test`` would.

Which modules a test sees: every Intent policy is ``package spacelift``, so loading
all policies of a directory into one engine (as ``opa test`` does) would merge their
rules. Instead each ``NAME_test.rego`` runs against its own policy, ``NAME.rego`` in the
same directory, plus every non-test module of the tree that is *not* in package
``spacelift`` (shared helper libraries). A test passes when its rule is ``true``.

Tests run in the policy worker processes with a time limit per test, and the clock is
frozen at 0 (``time.now_ns()``), so a policy that reads the clock is tested
reproducibly; a test sets the time with ``with time.now_ns as ...``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from policies import _ast, _rego
from policies._errors import parse_engine_message
from policies._pool import ItemOutcome, PolicyWorkerPool, WorkerError, default_pool
from policies.models import RegoVersion

__all__ = [
    "DEFAULT_TEST_TIMEOUT_SECONDS",
    "OUTCOMES",
    "PolicyTestFileError",
    "PolicyTestReport",
    "PolicyTestResult",
    "TestOutcome",
    "run_policy_tests",
]

DEFAULT_TEST_TIMEOUT_SECONDS = 5.0
TestOutcome = Literal["pass", "fail", "error"]
OUTCOMES: tuple[TestOutcome, ...] = ("pass", "fail", "error")
TEST_SUFFIX = "_test.rego"


class PolicyTestResult(BaseModel):
    name: str = Field(description="The rule's full path, e.g. data.spacelift_test.test_x")
    file: str
    line: int | None = None
    outcome: TestOutcome
    message: str | None = Field(default=None, description="Why it failed or errored.")
    prints: list[str] = Field(default_factory=list)
    duration_ms: float = 0.0


class PolicyTestFileError(BaseModel):
    """A module that does not compile: none of the tests that need it can run."""

    file: str
    message: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}" if self.line else self.file
        return f"{where}: {self.message}"


class PolicyTestReport(BaseModel):
    results: list[PolicyTestResult] = Field(default_factory=list)
    errors: list[PolicyTestFileError] = Field(default_factory=list)

    def count(self, outcome: TestOutcome) -> int:
        return sum(1 for r in self.results if r.outcome == outcome)

    @property
    def ok(self) -> bool:
        """Every test passed, every module compiled, and there was a test to run."""
        return bool(self.results) and not self.errors and self.count("pass") == len(self.results)


@dataclass
class _Module:
    label: str  # path relative to the root, as messages show it
    body: str
    parsed: _ast.Module | None = None
    error: PolicyTestFileError | None = None  # when it does not compile


@dataclass
class _Suite:
    test: _Module
    modules: list[_Module]
    tests: list[tuple[str, int | None]] = field(default_factory=list)  # (rule path, line)


def run_policy_tests(
    path: Path | str,
    *,
    run: str | None = None,
    timeout_seconds: float = DEFAULT_TEST_TIMEOUT_SECONDS,
    rego_version: RegoVersion = "v1",
    pool: PolicyWorkerPool | None = None,
    on_result: Callable[[PolicyTestResult], None] | None = None,
) -> PolicyTestReport:
    """Run the tests under ``path`` (a directory, or one ``*_test.rego`` file).

    ``run`` keeps the tests whose full name (``data.pkg.test_x``) or file (relative to
    the directory) matches the regular expression; ``on_result`` sees each result as
    soon as it is known.
    """
    root = Path(path).resolve()
    if not root.exists():
        raise FileNotFoundError(f"{path} does not exist")
    base = root if root.is_dir() else root.parent
    wanted = re.compile(run) if run else None
    v0 = rego_version == "v0"

    modules = {p: _load(p, base, v0) for p in _rego_files(base)}
    if root.is_file():
        modules.setdefault(root, _load(root, base, v0))
        test_paths = [root]
        # One test file: only its own modules' errors matter (helpers that do not
        # compile are left out, as every broken module is when running a tree).
        relevant = {root, _policy_path(root)}
    else:
        test_paths = [p for p in modules if p.name.endswith(TEST_SUFFIX)]
        relevant = set(modules)
    report = PolicyTestReport(
        errors=[m.error for p, m in modules.items() if m.error is not None and p in relevant]
    )
    support = [
        m
        for p, m in modules.items()
        if not p.name.endswith(TEST_SUFFIX)
        and m.parsed is not None
        and m.parsed.package != _rego.INTENT_PACKAGE
    ]
    for test_path in test_paths:
        test = modules[test_path]
        policy = modules.get(_policy_path(test_path))
        if test.parsed is None or (policy is not None and policy.parsed is None):
            continue  # reported above; these tests cannot run
        suite = _Suite(test=test, modules=[test, *([policy] if policy else []), *support])
        package = f"data.{test.parsed.package}"
        seen: set[str] = set()
        for rule in test.parsed.rules:
            name = f"{package}.{rule.name}"
            if rule.bracketed or not rule.name.startswith("test_") or name in seen:
                continue
            seen.add(name)
            if wanted is None or wanted.search(name) or wanted.search(test.label):
                suite.tests.append((name, rule.line))
        if suite.tests:
            _run_suite(suite, v0, timeout_seconds, pool, report, on_result)
    return report


def _policy_path(test_path: Path) -> Path:
    return test_path.with_name(test_path.name.removesuffix(TEST_SUFFIX) + ".rego")


def _rego_files(base: Path) -> list[Path]:
    return sorted(
        p
        for p in base.rglob("*.rego")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(base).parts)
    )


def _load(path: Path, base: Path, v0: bool) -> _Module:
    label = path.relative_to(base).as_posix()
    module = _Module(label=label, body=path.read_text(encoding="utf-8"))
    try:
        engine = _rego.new_engine([(label, module.body)], v0=v0)
    except Exception as exc:
        parsed = parse_engine_message(_rego.strip_backtrace(str(exc)), {label: module.body})
        module.error = PolicyTestFileError(
            file=label, message=parsed.message, line=parsed.line, column=parsed.column
        )
        return module
    module.parsed = _ast.parse_modules(engine.get_ast_as_json())[0]
    return module


def _run_suite(
    suite: _Suite,
    v0: bool,
    timeout: float,
    pool: PolicyWorkerPool | None,
    report: PolicyTestReport,
    on_result: Callable[[PolicyTestResult], None] | None,
) -> None:
    sources = {m.label: m.body for m in suite.modules}
    request = {
        "op": "tests",
        "modules": [[m.label, m.body] for m in suite.modules],
        "v0": v0,
        "tests": [name for name, _ in suite.tests],
    }

    done = 0

    def record(index: int, outcome: ItemOutcome) -> None:
        nonlocal done
        name, line = suite.tests[index]
        result = _result(name, suite.test.label, line, outcome, timeout, sources)
        report.results.append(result)
        done += 1
        if on_result is not None:
            on_result(result)

    try:
        (pool or default_pool()).run(request, len(suite.tests), timeout, on_item=record)
    except WorkerError as exc:  # no worker could start: the remaining tests cannot run
        for index in range(done, len(suite.tests)):
            record(index, ItemOutcome(None, crashed=str(exc)))


def _result(
    name: str,
    file: str,
    line: int | None,
    outcome: ItemOutcome,
    timeout: float,
    sources: dict[str, str],
) -> PolicyTestResult:
    def result(kind: TestOutcome, message: str | None = None) -> PolicyTestResult:
        frame = outcome.frame or {}
        elapsed = frame.get("elapsed_ns")
        return PolicyTestResult(
            name=name,
            file=file,
            line=line,
            outcome=kind,
            message=message,
            prints=[str(p) for p in frame.get("prints") or []],
            duration_ms=elapsed / 1e6 if elapsed is not None else outcome.elapsed_s * 1000,
        )

    if outcome.timed_out:
        return result("error", f"exceeded the {timeout:g}s limit per test")
    frame = outcome.frame
    if frame is None:
        return result("error", f"could not run: {outcome.crashed}")
    if frame.get("error"):
        parsed = parse_engine_message(frame["error"], sources)
        where = f"{parsed.file}:{parsed.line}:{parsed.column}: " if parsed.line else ""
        return result("error", f"{where}{parsed.message}")
    if not frame.get("defined"):
        return result("fail", "undefined: a condition in the test's body did not hold")
    if frame.get("value") is not True:
        return result("fail", f"evaluated to {json.dumps(frame.get('value'))}, not true")
    return result("pass")
