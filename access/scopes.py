"""OAuth scopes: the ceiling a token puts on what its holder's roles allow.

``mcp:read`` alone is read-only mode: the token sees and may call only tools and
routes that change nothing. Roles still decide within the ceiling.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "ALL_SCOPES",
    "READ",
    "SCOPE_DESCRIPTIONS",
    "WRITE",
    "allows_writes",
    "normalize_scopes",
]

READ = "mcp:read"
WRITE = "mcp:write"
ALL_SCOPES: tuple[str, ...] = (READ, WRITE)

SCOPE_DESCRIPTIONS = {
    READ: "See projects, resources, state, history and policies",
    WRITE: "Change infrastructure, projects and policies (as your roles allow)",
}


def normalize_scopes(scopes: Iterable[str]) -> list[str]:
    """Known scopes in canonical order; ``mcp:write`` implies ``mcp:read``."""
    given = set(scopes)
    if WRITE in given:
        given.add(READ)
    return [s for s in ALL_SCOPES if s in given]


def allows_writes(scopes: Iterable[str]) -> bool:
    """Whether a credential with these scopes may change anything (read-only mode is not)."""
    return WRITE in scopes
