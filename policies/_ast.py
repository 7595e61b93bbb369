"""Static checks over regorus's AST (``Engine.get_ast_as_json``).

regorus reports some mistakes only when the faulty rule is evaluated (an unknown
function, a misspelt builtin) and none about the *shape* Intent expects of ``deny``,
``allow`` and ``sample``. Reading the AST finds those before a policy is saved.
The AST format is regorus's own: every reader here tolerates shapes it does not know.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from policies import _rego

__all__ = [
    "Finding",
    "Module",
    "intent_findings",
    "parse_modules",
]

Severity = Literal["error", "warning"]

# Builtins whose result is not reproducible, or that Intent deliberately disables.
_UNREPRODUCIBLE = {
    "rand.intn": "returns a different number on each evaluation",
    "uuid.rfc4122": "returns a different value on each evaluation",
    "http.send": "makes no request here: its result is always undefined",
    "opa.runtime": "describes the evaluator, not the operation",
}
_LITERALS = {
    "String": "a string",
    "RawString": "a string",
    "Number": "a number",
    "Bool": "a boolean",
    "Null": "null",
    "Array": "an array",
    "Object": "an object",
    "Set": "a set",
    "ArrayCompr": "an array",
    "ObjectCompr": "an object",
    "SetCompr": "a set",
}


@dataclass(frozen=True)
class Finding:
    message: str
    line: int | None
    engine_column: int | None  # regorus's column; translate with _errors.char_column
    severity: Severity = "error"


@dataclass(frozen=True)
class Rule:
    name: str  # the head's reference, dotted (``deny``, ``a.b``); the root if bracketed
    text: str  # the head's reference as written (``deny["x"]``)
    kind: str  # "Set", "Compr", "Func" or "Default"
    head: dict[str, Any]
    bracketed: bool  # the head indexes its name (``deny[x]``, ``deny.x``): an object rule
    line: int | None
    engine_column: int | None


@dataclass(frozen=True)
class Module:
    """One parsed module: its package and rules, as the AST describes them."""

    package: str  # dotted, without ``data.``
    rules: tuple[Rule, ...]
    imports: dict[str, str]  # alias -> dotted path
    ast: dict[str, Any]


def parse_modules(ast_json: str) -> list[Module]:
    modules: list[Module] = []
    for entry in json.loads(ast_json):
        ast = entry.get("ast") or {}
        source = (entry.get("source") or {}).get("contents", "")
        package_ref = (ast.get("package") or {}).get("refr")
        package = _ref_name(package_ref) or ""
        encoded = source.encode()
        rules = tuple(
            r for r in (_rule(raw, encoded) for raw in ast.get("rules") or []) if r is not None
        )
        modules.append(Module(package=package, rules=rules, imports=_imports(ast, source), ast=ast))
    return modules


def _span(node: Any) -> tuple[int | None, int | None]:
    if isinstance(node, dict):
        for value in node.values():
            if isinstance(value, dict) and "span" in value:
                span = value["span"]
                return span.get("line"), span.get("col")
        span = node.get("span")
        if isinstance(span, dict):
            return span.get("line"), span.get("col")
    return None, None


def _ref_name(ref: Any) -> str | None:
    """``a.b.c`` for a Var/RefDot chain; None for anything else (brackets, calls …)."""
    if not isinstance(ref, dict):
        return None
    if "Var" in ref:
        value = ref["Var"].get("value")
        return value if isinstance(value, str) else None
    if "RefDot" in ref:
        inner = _ref_name(ref["RefDot"].get("refr"))
        field = ref["RefDot"].get("field")
        name = field[1] if isinstance(field, list) and len(field) == 2 else None
        if inner is None or not isinstance(name, str):
            return None
        return f"{inner}.{name}"
    return None


def _ref_root_node(ref: Any) -> Any:
    """The Var a reference starts from (``deny`` in ``deny["x"]``), or None."""
    while isinstance(ref, dict):
        if "Var" in ref:
            return ref
        inner = ref.get("RefDot") or ref.get("RefBrack")
        if not isinstance(inner, dict):
            return None
        ref = inner.get("refr")
    return None


def _ref_root(ref: Any) -> str | None:
    node = _ref_root_node(ref)
    value = node["Var"].get("value") if node is not None else None
    return value if isinstance(value, str) else None


def _text(node: Any, source: bytes) -> str | None:
    """The source text of a reference: from its root's start to its own end."""
    root = _ref_root_node(node)
    if not isinstance(node, dict) or root is None:
        return None
    start = root["Var"].get("span", {}).get("start")
    end = next(iter(node.values())).get("span", {}).get("end")
    if not isinstance(start, int) or not isinstance(end, int) or end <= start:
        return None
    # A bracket's span ends with its index's content: take the closing quote and bracket.
    if source[end : end + 1] in (b'"', b"`"):
        end += 1
    if source[end : end + 1] == b"]":
        end += 1
    return source[start:end].decode(errors="replace")


def _rule(raw: dict[str, Any], source: bytes) -> Rule | None:
    if "Spec" in raw:
        head = raw["Spec"].get("head") or {}
        if not head:
            return None
        kind = next(iter(head))
        body = head[kind]
        ref = body.get("refr")
    elif "Default" in raw:
        kind, body = "Default", raw["Default"]
        ref = body.get("refr")
    else:
        return None
    name = _ref_name(ref)
    root = _ref_root(ref)
    if root is None:
        return None
    line, col = _span(_ref_root_node(ref))
    bracketed = name is None or name != root
    return Rule(
        name=name or root,
        text=_text(ref, source) or name or root,
        kind=kind,
        head=body,
        bracketed=bracketed,
        line=line,
        engine_column=col,
    )


def _imports(ast: dict[str, Any], source: str) -> dict[str, str]:
    aliases: dict[str, str] = {}
    encoded = source.encode()
    for item in ast.get("imports") or []:
        path = _ref_name(item.get("refr"))
        if not path:
            continue
        alias_span = item.get("as")
        if isinstance(alias_span, dict) and "start" in alias_span:
            alias = encoded[alias_span["start"] : alias_span["end"]].decode(errors="replace")
        else:
            alias = path.rsplit(".", 1)[-1]
        aliases[alias] = path
    return aliases


def _walk_calls(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        call = node.get("Call")
        if isinstance(call, dict):
            yield call
        for value in node.values():
            yield from _walk_calls(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk_calls(value)


@lru_cache(maxsize=1)
def known_builtins() -> frozenset[str]:
    """The builtins this regorus build provides (it lists them in ``opa.runtime()``)."""
    engine = _rego.new_engine([("builtins.rego", "package b\nr := opa.runtime()\n")], v0=False)
    engine.set_input_json("{}")
    runtime = json.loads(engine.eval_rule_as_json("data.b.r"))
    return frozenset(runtime.get("builtins", [])) | {"print"}


def _literal_kind(expr: Any) -> str | None:
    if isinstance(expr, dict) and len(expr) == 1:
        kind = str(next(iter(expr)))
        if kind in _LITERALS:
            return kind
    return None


def _set_items_problem(expr: dict[str, Any]) -> str | None:
    for item in expr["Set"].get("items") or []:
        kind = _literal_kind(item)
        if kind is not None and kind not in ("String", "RawString"):
            return _LITERALS[kind]
    return None


def _shape_findings(rule: Rule) -> Iterator[Finding]:
    name, kind = rule.name.split(".", 1)[0], rule.kind

    def finding(message: str) -> Finding:
        return Finding(message, rule.line, rule.engine_column)

    if kind == "Func":
        yield finding(f"`{name}` is a function here; Intent reads `{name}` as a rule")
        return
    if rule.bracketed:
        hint = (
            f"write `{name} contains ... if {{ ... }}`"
            if name != "sample"
            else "write `sample if { ... }`"
        )
        yield finding(f"`{rule.text}` makes `{name}` an object in Rego v1; {hint}")
        return
    # The assigned value (``:= value``); None for ``name if { ... }``, which is true.
    value = (
        (rule.head.get("assign") or {}).get("value") if kind == "Compr" else rule.head.get("value")
    )
    if name == "sample":
        if kind == "Set":
            yield finding("`sample` must be a boolean, not a set; write `sample if { ... }`")
            return
        literal = _literal_kind(value)
        if literal is not None and literal != "Bool":
            yield finding(f"`sample` must be a boolean, not {_LITERALS[literal]}")
        return
    # deny / allow: sets of strings
    if kind == "Set":
        literal = _literal_kind(rule.head.get("key"))
        if literal is not None and literal not in ("String", "RawString"):
            yield finding(f"`{name}` must contain strings (reasons), not {_LITERALS[literal]}")
        return
    if kind == "Compr" and value is None:
        yield finding(
            f"`{name} if {{ ... }}` makes `{name}` a boolean; Intent collects reasons: "
            f'write `{name} contains "why" if {{ ... }}`'
        )
        return
    literal = _literal_kind(value)
    if literal == "Set" and isinstance(value, dict):
        item = _set_items_problem(value)
        if item is not None:
            yield finding(f"`{name}` must contain strings (reasons), not {item}")
    elif literal is not None and literal != "SetCompr":
        yield finding(f"`{name}` must be a set of strings, not {_LITERALS[literal]}")


def intent_findings(module: Module) -> list[Finding]:
    """Everything wrong (errors) or doubtful (warnings) about an Intent policy module."""
    findings: list[Finding] = []
    if module.package != _rego.INTENT_PACKAGE:
        line, col = _span((module.ast.get("package") or {}).get("refr"))
        findings.append(
            Finding(
                f"an Intent policy declares `package {_rego.INTENT_PACKAGE}`, "
                f"not `package {module.package}`",
                line,
                col,
            )
        )
    defined = set()
    for rule in module.rules:
        root = rule.name.split(".", 1)[0]
        if root in _rego.INTENT_RULES:
            defined.add(root)
            findings.extend(_shape_findings(rule))
    if not defined & {"deny", "allow"}:
        findings.append(
            Finding(
                "the policy defines neither `deny` nor `allow`: every operation it governs "
                "will wait for a human review",
                1,
                1,
                "warning",
            )
        )
    findings.extend(_call_findings(module))
    return findings


def _call_findings(module: Module) -> Iterator[Finding]:
    functions = {rule.name for rule in module.rules if rule.kind == "Func"}
    builtins = known_builtins()
    for call in _walk_calls(module.ast.get("rules")):
        fcn = call.get("fcn")
        name = _ref_name(fcn)
        if name is None:
            continue
        line, col = _span(fcn)
        root = name.split(".", 1)[0]
        if name in _UNREPRODUCIBLE:
            yield Finding(f"`{name}` {_UNREPRODUCIBLE[name]}", line, col, "warning")
        if name in builtins or name in functions or root == "data" or root in module.imports:
            continue
        yield Finding(f"unknown function `{name}`", line, col)
