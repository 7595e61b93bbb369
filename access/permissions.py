"""The one place that decides who may do what, where.

Every door asks here: the REST API, the MCP tools, the web UI and the CLI (through
the shared services), and the workflows' update validators (which hold no database,
so they decide with the actions the server resolved and signed into the actor).

Rules:
- A role bound in a space grants its actions there and in every space below it.
- A credential's scopes are a ceiling: without ``mcp:write`` no action that writes.
- An API key limited to a space reaches nothing outside that space's subtree.
- Changes have owners: whoever asked may always withdraw (reject) their change and
  retry or abandon it when it failed; confirming a delete or replacement of their own
  change needs ``intent-change:confirm``; a change a policy sent to review needs someone
  else holding ``intent-change:review`` (a space admin may approve their own); another
  person's failed change needs ``intent-change:retry`` / ``intent-change:abandon``.
"""

from __future__ import annotations

from collections.abc import Iterable

from access.actions import ACTIONS, describe
from access.models import Principal, SpacePath
from access.roles import BUILTIN_ROLES
from access.scopes import WRITE, allows_writes

__all__ = [
    "ADMIN",
    "action_refusal",
    "change_refusal",
    "effective_actions",
    "is_allowed",
    "refusal",
    "roles_with",
]

ADMIN = "intent-space:admin"


def effective_actions(principal: Principal, path: SpacePath) -> frozenset[str]:
    """What ``principal`` may do in the last space of ``path``."""
    ids = {space.id for space in path}
    if principal.space_limit is not None and principal.space_limit not in ids:
        return frozenset()
    held: set[str] = set()
    for grant in principal.grants:
        if grant.space in ids:
            held |= grant.actions
    if not allows_writes(principal.scopes):
        held = {a for a in held if a in ACTIONS and not ACTIONS[a].writes}
    return frozenset(held)


def is_allowed(principal: Principal, action: str, path: SpacePath) -> bool:
    return action in effective_actions(principal, path)


def roles_with(action: str, extra: Iterable[tuple[str, frozenset[str]]] = ()) -> list[str]:
    """The roles (built-in, then ``extra`` custom ones) that grant ``action``."""
    named = [r.name for r in BUILTIN_ROLES.values() if action in r.actions]
    return named + [name for name, actions in extra if action in actions]


def refusal(principal: Principal, action: str, path: SpacePath) -> str | None:
    """Why ``principal`` may not do ``action`` in ``path`` (words for the user), or None."""
    if is_allowed(principal, action, path):
        return None
    where = path[-1].name if path else "this space"
    who = principal.name
    ids = {space.id for space in path}
    if principal.space_limit is not None and principal.space_limit not in ids:
        return (
            f"{who}'s API key is limited to another space and may not reach space {where}; "
            "use a key for that space"
        )
    info = ACTIONS.get(action)
    if info is not None and info.writes and WRITE not in principal.scopes:
        return (
            f"{who}'s credential is read-only ({' '.join(principal.scopes) or 'no scopes'}): "
            f"it may not {info.does}; sign in again granting {WRITE}, or use a key that has it"
        )
    return action_refusal(frozenset(), action, who=who, where=f"space {where}")


def action_refusal(actions: frozenset[str], action: str, *, who: str, where: str) -> str | None:
    """Why someone holding ``actions`` (already resolved for ``where``) may not ``action``."""
    if action in actions:
        return None
    roles = " or ".join(roles_with(action)[:3])
    return (
        f"{who} may not {describe(action)} in {where}: that needs {action} there or in a "
        f"space above it (role {roles}); ask a space admin to bind such a role"
    )


def change_refusal(
    actions: frozenset[str],
    *,
    actor_id: str,
    actor_name: str,
    requester_id: str,
    requester_name: str,
    verb: str,
    change_id: str,
    review: bool = False,
) -> str | None:
    """Why the actor may not ``verb`` (confirm, reject, retry, abandon) the change, or None.

    ``actions`` are the actor's effective actions in the change's project.
    """
    own = actor_id == requester_id
    admin = ADMIN in actions
    if verb in ("retry", "abandon"):
        if own or f"intent-change:{verb}" in actions:
            return None
        return (
            f"{actor_name} may not {verb} change {change_id}: only {requester_name} (who asked "
            f"for it) or someone with intent-change:{verb} (role operator or space-admin) may"
        )
    if verb == "reject" and own:
        return None  # whoever asked may always withdraw
    if review:
        if own and not admin:
            return (
                f"{actor_name} may not approve their own change {change_id}: a policy sent "
                "it to review, which needs someone else with intent-change:review (role "
                "reviewer)"
            )
        if "intent-change:review" in actions or admin:
            return None
        return (
            f"{actor_name} may not {verb} change {change_id}: a policy sent it to review, "
            "which needs intent-change:review (role reviewer); ask a reviewer"
        )
    if (own and "intent-change:confirm" in actions) or admin:
        return None
    if own:
        return (
            f"{actor_name} may not {verb} change {change_id}: that needs "
            "intent-change:confirm in the project's space"
        )
    return (
        f"{actor_name} may not {verb} change {change_id}: only {requester_name} (who asked "
        "for it) or a space admin may"
    )
