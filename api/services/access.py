"""Who may administer identities (users, API keys of others, the audit trail)."""

from __future__ import annotations

from api.context import Caller
from api.errors import Forbidden

__all__ = ["require_admin"]


def require_admin(caller: Caller, doing: str) -> None:
    if not caller.actor.is_admin:
        raise Forbidden(f"{caller.actor.name} may not {doing}: that needs an admin")
