"""``Actor``: who asked, as every history row, policy input and workflow update records it.

A wire type (it travels in Temporal payloads), so it stays plain and safe to import in
workflow code.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

__all__ = ["Actor", "Via"]

Via = Literal["mcp", "api", "ui", "cli", "system", "temporal-ui"]


class Actor(BaseModel):
    """The caller, as recorded on every history row and passed to policies."""

    id: str
    name: str
    roles: list[str] = []
    via: Via = "api"

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles
