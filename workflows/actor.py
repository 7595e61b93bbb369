"""``Actor``: who asked, as every history row, policy input and workflow update records it.

A wire type (it travels in Temporal payloads), so it stays plain and safe to import in
workflow code.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

__all__ = ["Actor", "Via"]

Via = Literal["mcp", "api", "ui", "cli", "system", "temporal-ui"]


class Actor(BaseModel):
    """The caller, as recorded on every history row and passed to policies.

    ``roles`` name the roles it holds (where it acts, when ``actions`` is set).
    ``scopes`` are the ceiling its credential puts on it (an ``mcp:read`` token is
    read-only whatever its roles). ``actions`` are what it may do in one project's
    space, resolved by the server's permission rules and signed into the updates it
    sends, so a workflow's validators decide without a database (``access.permissions``).
    """

    id: str
    name: str
    roles: list[str] = []
    via: Via = "api"
    scopes: list[str] = Field(default_factory=lambda: ["mcp:read", "mcp:write"])
    actions: list[str] | None = None
