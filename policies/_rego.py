"""The regorus calls every evaluation makes, shared by the worker process and validation.

This module imports nothing but the standard library and ``regorus`` so that the policy
worker starts in a few milliseconds (no pydantic, no settings). Values cross to Python
as JSON (``*_as_json``): the native conversion turns every number into a float, which
would corrupt nanosecond timestamps.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

import regorus

__all__ = [
    "INTENT_PACKAGE",
    "INTENT_RULES",
    "clone",
    "defined_intent_rules",
    "evaluate_intent_rules",
    "new_engine",
    "run_test_rule",
    "strip_backtrace",
]

INTENT_PACKAGE = "spacelift"
INTENT_RULES = ("deny", "allow", "sample")

# The label every Intent policy body is compiled under; positions in messages refer to it.
POLICY_FILE = "policy.rego"

# With RUST_BACKTRACE set, anyhow appends a native stack trace to every message.
_BACKTRACE = re.compile(r"\n*Stack backtrace:\n.*\Z", re.DOTALL)


def strip_backtrace(message: str) -> str:
    return _BACKTRACE.sub("", message)


def new_engine(modules: Sequence[tuple[str, str]], *, v0: bool) -> regorus.Engine:
    """A fresh engine with ``modules`` (path, body) parsed; raises on a syntax error."""
    engine = regorus.Engine()
    engine.set_rego_v0(v0)
    engine.set_gather_prints(True)
    try:
        for path, body in modules:
            engine.add_policy(path, body)
    except Exception as exc:
        # Engines are thread-bound: drop this one here, not later from whichever thread
        # collects the traceback that would otherwise keep it alive.
        message = str(exc)
        del engine, exc
        raise ValueError(message) from None
    return engine


def clone(engine: regorus.Engine) -> regorus.Engine:
    """A copy of a prepared engine (cheaper than parsing again); missing from the stub."""
    copy: regorus.Engine = engine.clone()  # type: ignore[attr-defined]
    return copy


def defined_intent_rules(engine: regorus.Engine) -> tuple[str, ...]:
    """Which of ``deny``/``allow``/``sample`` the engine's policy defines (from its AST).

    Evaluating a rule a policy does not define still costs a comprehension each time;
    asking only for the defined ones makes a typical policy a quarter cheaper. All three
    when the AST cannot be read: asking for an undefined rule is merely slower.
    """
    from policies._ast import parse_modules  # stdlib and regorus only, like this module

    try:
        modules = parse_modules(engine.get_ast_as_json())
    except Exception:
        return INTENT_RULES
    roots = {
        rule.name.split(".", 1)[0]
        for module in modules
        if module.package == INTENT_PACKAGE
        for rule in module.rules
    }
    return tuple(rule for rule in INTENT_RULES if rule in roots)


def _intent_query(now_ns: int, rules: Sequence[str] = INTENT_RULES) -> str:
    # One query evaluates the three rules together (they often share helper rules, which
    # the interpreter then computes once). Each comprehension pairs the value with its
    # type name: the JSON rendering of a set and an array are the same, the type is not.
    # ``with time.now_ns`` pins the clock to the request's timestamp (see docs/policies.md).
    parts = ", ".join(
        f'"{rule}": [[type_name(v), v] | v := data.{INTENT_PACKAGE}.{rule}]' for rule in rules
    )
    return f"intent__result := {{{parts}}} with time.now_ns as {int(now_ns)}"


def _binding(result_json: str, name: str) -> tuple[bool, Any]:
    """Whether the query held, and the value it bound to ``name``."""
    result = json.loads(result_json).get("result") or []
    if not result:
        return False, None
    return True, result[0].get("bindings", {}).get(name)


def evaluate_intent_rules(
    engine: regorus.Engine,
    input_json: str,
    *,
    now_ns: int,
    whole_package: bool = False,
    rules: Sequence[str] = INTENT_RULES,
) -> dict[str, Any]:
    """Evaluate ``deny``/``allow``/``sample`` of ``package spacelift`` on a prepared engine.

    Returns ``{"packages", "rules": {rule: [[type, value]] or []}, "prints", "error"}``;
    ``error`` is the engine's message (positions included) when evaluation failed.
    ``whole_package`` first evaluates every rule of the package, so that an error in a
    rule the three do not depend on surfaces too (used when validating a policy).
    """
    packages = list(engine.get_packages())
    out: dict[str, Any] = {"packages": packages, "rules": None, "prints": [], "error": None}
    try:
        engine.set_input_json(input_json)
        if whole_package:
            engine.eval_query_as_json(
                f"intent__all := data.{INTENT_PACKAGE} with time.now_ns as {int(now_ns)}"
            )
        query = _intent_query(now_ns, rules)
        _, found = _binding(engine.eval_query_as_json(query), "intent__result")
        # Rules not asked for are undefined in the policy: empty, as the query would say.
        out["rules"] = {rule: [] for rule in INTENT_RULES} | (found or {})
    except Exception as exc:  # regorus raises RuntimeError; anything else is as fatal
        out["error"] = strip_backtrace(str(exc))
    out["prints"] = _take_prints(engine)
    return out


def run_test_rule(engine: regorus.Engine, rule_path: str, *, now_ns: int = 0) -> dict[str, Any]:
    """Evaluate one ``test_*`` rule; ``defined`` is false when the rule is undefined."""
    out: dict[str, Any] = {"defined": False, "value": None, "prints": [], "error": None}
    try:
        # Tests see a frozen clock, so a policy reading time.now_ns() is reproducible;
        # a test overrides it with its own ``with time.now_ns as ...``.
        query = f"intent__test := {rule_path} with time.now_ns as {int(now_ns)}"
        out["defined"], out["value"] = _binding(engine.eval_query_as_json(query), "intent__test")
    except Exception as exc:
        out["error"] = strip_backtrace(str(exc))
    out["prints"] = _take_prints(engine)
    return out


def _take_prints(engine: regorus.Engine) -> list[str]:
    try:
        return [str(p) for p in engine.take_prints()]
    except Exception:  # prints are diagnostics; never let them mask the result
        return []
