"""Who asks (a principal and its grants) and where (a space and its ancestors)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from access.scopes import ALL_SCOPES

__all__ = ["ROOT", "Grant", "Principal", "SpacePath", "SpaceRef", "space_path"]

ROOT = "root"


@dataclass(frozen=True)
class SpaceRef:
    id: str
    name: str


# From the root down to the space itself: a grant anywhere on it applies (inheritance).
SpacePath = tuple[SpaceRef, ...]


def space_path(space_id: str, spaces: Mapping[str, tuple[str, str | None]]) -> SpacePath:
    """The path of ``space_id`` given every space as ``id -> (name, parent id)``."""
    chain: list[SpaceRef] = []
    current: str | None = space_id
    seen: set[str] = set()
    while current is not None and current not in seen:
        seen.add(current)
        name, parent = spaces.get(current, (current, None))
        chain.append(SpaceRef(current, name))
        current = parent
    return tuple(reversed(chain))


@dataclass(frozen=True)
class Grant:
    """A role bound in a space, with the actions the role holds (resolved when loaded)."""

    space: str
    role: str
    actions: frozenset[str]
    # Why the principal has it: "user", "group:<name>" or "key".
    via: str = "user"


@dataclass(frozen=True)
class Principal:
    """Everything a decision needs about who asks.

    ``scopes`` are the credential's ceiling (read-only tokens); ``space_limit`` keeps an
    API key inside one space and the spaces below it. ``key_id`` and ``key_expires_at``
    name the API key the request came with (directly, or through a web session opened
    with it): whatever such a caller makes must stay within the key's limits.
    """

    id: str
    name: str
    grants: tuple[Grant, ...] = ()
    scopes: tuple[str, ...] = ALL_SCOPES
    space_limit: str | None = None
    groups: tuple[str, ...] = field(default=())
    key_id: str | None = None
    key_expires_at: datetime | None = None

    def roles_in(self, path: Iterable[SpaceRef]) -> list[str]:
        ids = {space.id for space in path}
        return sorted({g.role for g in self.grants if g.space in ids})
