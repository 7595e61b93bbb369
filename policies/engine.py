"""Validate and evaluate Intent policies (Rego, ``package spacelift``) with regorus.

Semantics (see docs/policies.md):

- a policy defines ``deny`` and ``allow`` as sets of strings (reasons) and optionally
  ``sample`` (a boolean: keep this evaluation for the policy workbench);
- attached policies are evaluated independently; any deny wins, else any allow, else
  the operation waits for a human review; with no policy attached it is allowed;
- a policy that fails (evaluation error, wrong result type, time limit) denies, with a
  reason naming the problem: policies fail closed, never with an exception;
- ``time.now_ns()`` is the request's ``input.request.timestamp_ns``: evaluations are
  reproducible in the workbench.

Evaluation runs in warm worker processes (``policies._pool``): regorus holds the GIL
and cannot be interrupted, so a runaway policy is stopped by killing its process.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel

from policies import _ast, _rego
from policies._errors import EngineMessage, char_column, parse_engine_message
from policies._pool import ItemOutcome, PolicyWorkerPool, WorkerError, default_pool
from policies.input import PolicyInput
from policies.models import (
    Decision,
    PolicyProblem,
    PolicyReason,
    PolicyResult,
    PolicySource,
    PolicyVerdict,
    RegoVersion,
)

__all__ = [
    "MAX_POLICY_BYTES",
    "PolicyWorkerPool",
    "evaluate_policies",
    "evaluate_policies_async",
    "evaluate_policy",
    "validate_policy",
]

MAX_POLICY_BYTES = 256 * 1024

# Errors regorus raises only at evaluation but that are really compile errors: found
# while validating, they are errors whatever the input; other failures of the trial
# evaluation may depend on the input and are reported as warnings.
_COMPILE_ERRORS = (
    "could not find function",
    "is unsafe",
    "recursion detected",
    "undefined rule",
    "multiple default rules",
    "conflict",
    "not a valid",
    "invalid regex",
)


def _default_timeout() -> float:
    from settings import get_settings

    return get_settings().policy_timeout_seconds


def _limit(timeout_seconds: float | None) -> float:
    timeout = _default_timeout() if timeout_seconds is None else float(timeout_seconds)
    if timeout <= 0:
        raise ValueError("timeout_seconds must be positive")
    return timeout


# -- validation ---------------------------------------------------------------------------


def validate_policy(
    body: str,
    rego_version: RegoVersion = "v1",
    *,
    timeout_seconds: float | None = None,
    pool: PolicyWorkerPool | None = None,
) -> list[PolicyProblem]:
    """Problems with an Intent policy body; it may be saved when none is an ``error``.

    Checks, in order: it compiles (syntax, with line and column); it declares
    ``package spacelift``; ``deny``/``allow`` are sets of strings and ``sample`` a
    boolean where the source shows it; functions exist; and a trial evaluation on an
    example create (which finds what regorus reports only when evaluating, and result
    types the source does not show).
    """
    if len(body.encode()) > MAX_POLICY_BYTES:
        return [PolicyProblem(message=f"the policy is larger than {MAX_POLICY_BYTES} bytes")]
    sources = {_rego.POLICY_FILE: body}
    try:
        engine = _rego.new_engine([(_rego.POLICY_FILE, body)], v0=rego_version == "v0")
    except Exception as exc:  # a syntax error, with a position
        return [_problem(parse_engine_message(_rego.strip_backtrace(str(exc)), sources))]
    modules = _ast.parse_modules(engine.get_ast_as_json())
    del engine  # thread-bound: release it on this thread
    problems = [
        PolicyProblem(
            message=finding.message,
            line=finding.line,
            column=(
                char_column(body, finding.line, finding.engine_column)
                if finding.line is not None and finding.engine_column is not None
                else None
            ),
            severity=finding.severity,
        )
        for module in modules
        for finding in _ast.intent_findings(module)
    ]
    if any(p.severity == "error" for p in problems):
        return problems

    source = PolicySource(name="policy", body=body, rego_version=rego_version)
    timeout = _limit(timeout_seconds)
    outcome = _run([source], PolicyInput.example(), timeout, pool, whole_package=True)[0]
    frame = outcome.frame
    if frame is None:  # overran its limit, or crashed the worker
        failure = _result(source, outcome, timeout).error or ""
        reason = failure.removeprefix(f"policy {source.name} ")
        problems.append(PolicyProblem(message=f"on an example create, the policy {reason}"))
    elif frame.get("error"):
        problems.append(_trial_problem(frame["error"], body))
    else:
        try:
            _typed_rules(frame.get("rules") or {})
        except _TypeProblem as exc:
            rule = next((r for m in modules for r in m.rules if r.name == exc.rule), None)
            line = rule.line if rule else None
            column = rule.engine_column if rule else None
            problems.append(
                PolicyProblem(
                    message=f"on an example create, {exc}",
                    line=line,
                    column=char_column(body, line, column) if line and column else None,
                )
            )
    return problems


def _problem(parsed: EngineMessage) -> PolicyProblem:
    return PolicyProblem(message=parsed.message, line=parsed.line, column=parsed.column)


def _trial_problem(error: str, body: str) -> PolicyProblem:
    parsed = parse_engine_message(error, {_rego.POLICY_FILE: body})
    if any(marker in parsed.message for marker in _COMPILE_ERRORS) or parsed.line is None:
        return _problem(parsed)
    return PolicyProblem(
        message=f"evaluating an example create failed: {parsed.message}",
        line=parsed.line,
        column=parsed.column,
        severity="warning",
    )


# -- evaluation ---------------------------------------------------------------------------


def evaluate_policy(
    body: str,
    input: Mapping[str, Any] | BaseModel,
    *,
    rego_version: RegoVersion = "v1",
    timeout_seconds: float | None = None,
    name: str = "policy",
    pool: PolicyWorkerPool | None = None,
) -> PolicyResult:
    """Evaluate one Intent policy; errors and overruns come back as deny reasons."""
    source = PolicySource(name=name, body=body, rego_version=rego_version)
    return _evaluate([source], input, timeout_seconds, pool)[0]


def evaluate_policies(
    policies: Sequence[PolicySource],
    input: Mapping[str, Any] | BaseModel,
    *,
    timeout_seconds: float | None = None,
    pool: PolicyWorkerPool | None = None,
) -> PolicyVerdict:
    """Evaluate every attached policy independently and combine: any deny wins."""
    started = time.perf_counter()
    results = _evaluate(list(policies), input, timeout_seconds, pool) if policies else []
    decision: Decision
    if any(r.deny for r in results):
        decision = "denied"
        reasons = [PolicyReason(policy=r.policy, message=m) for r in results for m in r.deny]
    elif any(r.allow for r in results):
        decision = "allowed"
        reasons = [PolicyReason(policy=r.policy, message=m) for r in results for m in r.allow]
    else:
        decision = "pending" if results else "allowed"
        reasons = []
    return PolicyVerdict(
        decision=decision,
        reasons=reasons,
        results=results,
        duration_ms=(time.perf_counter() - started) * 1000,
    )


async def evaluate_policies_async(
    policies: Sequence[PolicySource],
    input: Mapping[str, Any] | BaseModel,
    *,
    timeout_seconds: float | None = None,
    pool: PolicyWorkerPool | None = None,
) -> PolicyVerdict:
    """``evaluate_policies`` off the event loop (it blocks on the worker's pipe)."""
    return await asyncio.to_thread(
        evaluate_policies, policies, input, timeout_seconds=timeout_seconds, pool=pool
    )


def _encode_input(input: Mapping[str, Any] | BaseModel) -> tuple[str, int]:
    data = input.model_dump(mode="json") if isinstance(input, BaseModel) else input
    # NaN/Infinity are not JSON (nor Rego): building such an input is a bug, raise.
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    request = data.get("request") if isinstance(data, Mapping) else None
    now_ns = request.get("timestamp_ns") if isinstance(request, Mapping) else None
    if not isinstance(now_ns, int) or isinstance(now_ns, bool):
        now_ns = 0  # no timestamp: the clock reads the epoch, deterministically
    return text, now_ns


def _evaluate(
    sources: list[PolicySource],
    input: Mapping[str, Any] | BaseModel,
    timeout_seconds: float | None,
    pool: PolicyWorkerPool | None,
) -> list[PolicyResult]:
    timeout = _limit(timeout_seconds)
    outcomes = _run(sources, input, timeout, pool)
    return [_result(s, o, timeout) for s, o in zip(sources, outcomes, strict=True)]


def _run(
    sources: list[PolicySource],
    input: Mapping[str, Any] | BaseModel,
    timeout: float,
    pool: PolicyWorkerPool | None,
    *,
    whole_package: bool = False,
) -> list[ItemOutcome]:
    input_json, now_ns = _encode_input(input)
    request = {
        "op": "intent",
        "items": [
            {"body": s.body, "v0": s.rego_version == "v0", "whole": whole_package} for s in sources
        ],
        "input": input_json,
        "now_ns": now_ns,
    }
    try:
        return (pool or default_pool()).run(request, len(sources), timeout)
    except WorkerError as exc:  # no evaluator at all: every policy fails closed
        return [ItemOutcome(None, crashed=str(exc)) for _ in sources]


def _failed(source: PolicySource, problem: str, elapsed_ms: float, **extra: Any) -> PolicyResult:
    reason = f"policy {source.name} {problem}"
    return PolicyResult(
        policy=source.name,
        policy_id=source.id,
        deny=[reason],
        error=reason,
        duration_ms=elapsed_ms,
        **extra,
    )


def _result(source: PolicySource, outcome: ItemOutcome, timeout: float) -> PolicyResult:
    frame = outcome.frame
    elapsed_ms = outcome.elapsed_s * 1000
    if outcome.timed_out:
        return _failed(
            source, f"exceeded its {timeout:g}s evaluation limit", elapsed_ms, timed_out=True
        )
    if frame is None:
        return _failed(source, f"could not be evaluated: {outcome.crashed}", elapsed_ms)
    if "elapsed_ns" in frame:
        elapsed_ms = frame["elapsed_ns"] / 1e6
    prints = [str(p) for p in frame.get("prints") or []]
    if frame.get("error"):
        parsed = parse_engine_message(frame["error"], {_rego.POLICY_FILE: source.body})
        where = f" (line {parsed.line}, column {parsed.column})" if parsed.line else ""
        return _failed(source, f"failed: {parsed.message}{where}", elapsed_ms, prints=prints)
    packages = frame.get("packages") or []
    expected = f"data.{_rego.INTENT_PACKAGE}"
    if expected not in packages:
        found = ", ".join(p.removeprefix("data.") for p in packages) or "none"
        return _failed(
            source,
            f"is not an Intent policy: it must declare `package {_rego.INTENT_PACKAGE}` "
            f"(found {found})",
            elapsed_ms,
            prints=prints,
        )
    try:
        deny, allow, sample = _typed_rules(frame.get("rules") or {})
    except _TypeProblem as exc:
        return _failed(source, f"is invalid: {exc}", elapsed_ms, prints=prints)
    return PolicyResult(
        policy=source.name,
        policy_id=source.id,
        deny=deny,
        allow=allow,
        sample=sample,
        prints=prints,
        duration_ms=elapsed_ms,
    )


class _TypeProblem(Exception):
    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule


def _typed_rules(rules: Mapping[str, Any]) -> tuple[list[str], list[str], bool]:
    """deny, allow and sample from the worker's ``[[type name, value]]`` (empty: undefined)."""
    return (
        _reasons(rules.get("deny"), "deny"),
        _reasons(rules.get("allow"), "allow"),
        _flag(rules.get("sample")),
    )


def _reasons(typed: Any, rule: str) -> list[str]:
    if not typed:  # undefined: the policy has no such rule, or none of its bodies held
        return []
    type_name, value = typed[0]
    if type_name != "set":
        raise _TypeProblem(rule, f"`{rule}` must be a set of strings, but it is {_a(type_name)}")
    others = sorted({_type_of(v) for v in value if not isinstance(v, str)})
    if others:
        raise _TypeProblem(
            rule, f"`{rule}` must be a set of strings, but it contains {', '.join(map(_a, others))}"
        )
    return sorted(value)


def _flag(typed: Any) -> bool:
    if not typed:
        return False
    type_name, value = typed[0]
    if type_name != "boolean":
        raise _TypeProblem("sample", f"`sample` must be a boolean, but it is {_a(type_name)}")
    return bool(value)


def _type_of(value: object) -> str:
    # Rego type names of JSON values (sets arrive as arrays: they render alike).
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if value is None:
        return "null"
    return "object" if isinstance(value, dict) else "array"


def _a(type_name: str) -> str:
    return (
        type_name
        if type_name == "null"
        else ("an " if type_name[0] in "aeiou" else "a ") + type_name
    )
