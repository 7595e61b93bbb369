"""Argument errors in the caller's terms: the argument's own name, what is wrong with it.

Pydantic's own text names internal models (``project_createArguments``), links to its
documentation and echoes the rejected input (which may be a secret). Callers see the
path of each argument as they spelled it and a short reason, nothing else.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import ValidationError

__all__ = ["argument_problems", "describe_argument_errors"]


def _path(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(arguments)"


def _reason(error: Mapping[str, Any]) -> str:
    kind = str(error.get("type", ""))
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "is not an argument of this call"
    message = str(error.get("msg", "is invalid"))
    for noise in ("Value error, ", "Input ", "String ", "List ", "Dictionary "):
        message = message.removeprefix(noise)
    return message[:1].lower() + message[1:]


def argument_problems(
    errors: Iterable[Mapping[str, Any]], *, skip: Sequence[str] = ()
) -> list[dict[str, str]]:
    """``[{"argument": "resources[0].config", "problem": "is required"}, …]``; leading
    location parts in ``skip`` (``body``, ``query``) are dropped."""
    problems = []
    for error in errors:
        loc = list(error.get("loc", ()))
        while loc and loc[0] in skip:
            loc.pop(0)
        problems.append({"argument": _path(loc), "problem": _reason(error)})
    return problems


def describe_argument_errors(what: str, exc: ValidationError) -> str:
    """One readable sentence per problem, e.g. for an MCP tool error."""
    problems = argument_problems(exc.errors(include_url=False, include_input=False))
    listed = "; ".join(f"{p['argument']} {p['problem']}" for p in problems)
    return f"invalid arguments for {what}: {listed}. Fix them and call again."
