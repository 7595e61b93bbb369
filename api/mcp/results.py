"""What a tool result's text says: a short summary, the data once in structured content.

The SDK renders a structured result twice: ``structuredContent`` and the same JSON
pretty-printed as text. Tokens are the client's budget, so ``ShortText`` (an MCP
middleware) replaces that text with a summary of a few lines: what happened, the
names and statuses that matter, and what to do next; the data itself is in
``structuredContent`` once. Error results keep their text (it is the message).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from mcp.server.context import CallNext, ServerRequestContext

__all__ = ["ShortText", "summarize"]

_MAX_ITEMS = 12
_MAX_VALUE = 80
# What names an item in a list, in order of preference.
_NAME_KEYS = ("name", "resource_id", "integration", "type_name", "what", "import_id", "id")
# Fields a summary leaves to the structured content.
_SKIPPED = frozenset({"next_cursor", "body", "description", "details", "headline"})


def _value(value: Any, limit: int = _MAX_VALUE) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _names(items: list[Any]) -> str:
    """The first few items by their name-like key."""
    shown = []
    for item in items[:_MAX_ITEMS]:
        if isinstance(item, Mapping):
            key = next((item[k] for k in _NAME_KEYS if k in item), None)
            if key is not None and item.get("status"):
                key = f"{key} ({item['status']})"
            shown.append(_value(key) if key is not None else "…")
        else:
            shown.append(_value(item))
    more = f" and {len(items) - _MAX_ITEMS} more" if len(items) > _MAX_ITEMS else ""
    return ", ".join(shown) + more


def _operation(op: Mapping[str, Any]) -> str:
    what = op.get("action") or op.get("operation")
    line = f"- {what} {op.get('resource_type')}.{op.get('resource_id')}: {op.get('status')}"
    why = op.get("error") or "; ".join(op.get("reasons") or [])
    line = f"{line} ({_value(why)})" if why else line
    # What the plan wants the user told (a re-created resource's data, a vanished object).
    return "\n".join([line, *(f"  warning: {w}" for w in op.get("warnings") or [])])


def _change(data: Mapping[str, Any]) -> str:
    change, status = data["change_id"], data["status"]
    lines = [f"change {change} in project {data.get('project')}: {status}"]
    if data.get("message"):
        lines[0] += f" — {data['message']}"
    lines += [_operation(op) for op in data.get("operations") or []]
    lines += [f"Warning: {w}" for w in data.get("warnings") or []]
    if status == "awaiting_confirmation":
        waiting = "; ".join(data.get("waiting_for") or []) or "a human decision"
        lines.append(
            f"Waiting for confirmation: {waiting}. Show the user what would change and ask; "
            f"only after they say yes call change-confirm with change_id {change} "
            "(change-reject if they say no)."
        )
    elif data.get("next_steps"):
        lines.append(f"Next: {data['next_steps']}")
    return "\n".join(lines)


def _described(types: list[Mapping[str, Any]]) -> str:
    lines = []
    for described in types:
        parts = [described.get("type_name", "?")]
        for key in ("required", "optional", "blocks"):
            found = described.get(key)
            if isinstance(found, Mapping) and found:
                parts.append(f"{key}: {', '.join(found)}")
        lines.append("; ".join(parts))
    return "\n".join(lines)


def _lookup(data: Mapping[str, Any]) -> str:
    result = data.get("result")
    if not isinstance(result, Mapping):
        return "done"
    head = " ".join(str(result[k]) for k in ("provider", "version") if result.get(k))
    if isinstance(result.get("types"), list):
        return f"{head}\n{_described(result['types'])}".strip()
    return f"{head}: {_generic(result)}".strip(": ")


def _generic(data: Mapping[str, Any]) -> str:
    """Scalars as key=value, lists as counts with their first names, objects by name."""
    parts = []
    for key, value in data.items():
        if value in (None, "", [], {}) or key in _SKIPPED or key.endswith("_at"):
            continue
        if key == "message":
            parts.append(str(value))  # whole: it says what happened
        elif isinstance(value, list):
            parts.append(f"{len(value)} {key}: {_names(value)}")
        elif isinstance(value, Mapping):
            name = next((value[k] for k in _NAME_KEYS if k in value), None)
            parts.append(f"{key}={_value(name)}" if name else f"{key}: {len(value)} fields")
        else:
            parts.append(f"{key}={_value(value)}")
    if data.get("next_cursor"):
        parts.append(f"more: pass cursor={data['next_cursor']}")
    return "; ".join(parts)


_SHAPES: list[tuple[Callable[[Mapping[str, Any]], bool], Callable[[Mapping[str, Any]], str]]] = [
    (lambda d: "change_id" in d and "operations" in d, _change),
    (lambda d: set(d) == {"result"}, _lookup),
]


def summarize(data: Mapping[str, Any]) -> str:
    """A few lines about a structured tool result."""
    for matches, render in _SHAPES:
        if matches(data):
            return render(data)
    return _generic(data) or "done"


class ShortText:
    """Replaces the SDK's pretty-printed JSON text of structured results with a summary.

    Middleware sees the result already shaped for the wire (camelCase keys).
    """

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> Any:
        result = await call_next(ctx)
        if ctx.method != "tools/call" or not isinstance(result, dict) or result.get("isError"):
            return result
        structured = result.get("structuredContent")
        if not isinstance(structured, Mapping):
            return result
        return {**result, "content": [{"type": "text", "text": summarize(structured)}]}
