"""Built-in roles: named sets of actions. Custom roles (stored) are the same shape.

The split the walkthrough asks for — "authors and operators stay clearly separated" —
is visible here: policy authors hold no resource actions, operators no policy actions.
"""

from __future__ import annotations

from dataclasses import dataclass

from access.actions import ACTIONS

__all__ = ["BUILTIN_ROLES", "ROLE_NAME_PATTERN", "Role", "unknown_actions"]

ROLE_NAME_PATTERN = r"^[a-z][a-z0-9-]{1,62}$"


@dataclass(frozen=True)
class Role:
    name: str
    description: str
    actions: frozenset[str]
    builtin: bool = True


_READ = frozenset(
    {"intent-project:read", "intent-state:read", "intent-policy:read", "intent-integration:read"}
)


def _role(name: str, description: str, *actions: str) -> Role:
    return Role(name, description, _READ | frozenset(actions))


BUILTIN_ROLES: dict[str, Role] = {
    role.name: role
    for role in (
        Role(
            "space-admin",
            "Everything in the space and the spaces below it, including role bindings",
            frozenset(ACTIONS),
        ),
        _role(
            "space-writer",
            "Create projects and change their resources, under policy",
            "intent-project:create",
            "intent-project:update",
            "intent-project:lock",
            "intent-resource:create",
            "intent-resource:update",
            "intent-resource:delete",
            "intent-resource:import",
            "intent-resource:refresh",
            "intent-datasource:read",
            "intent-state:eject",
            "intent-change:confirm",
            "intent-integration:attach",
            "intent-integration:write",
            "intent-environment:write",
        ),
        _role(
            "policy-author",
            "Write, change and attach policies (no resource changes)",
            "intent-policy:samples",
            "intent-policy:create",
            "intent-policy:update",
            "intent-policy:delete",
            "intent-policy:attach",
        ),
        _role(
            "reviewer",
            "Approve or reject changes a policy sent to review (not their own)",
            "intent-policy:samples",
            "intent-change:review",
        ),
        _role(
            "operator",
            "On call: retry or abandon failed changes, release stuck locks (no policy changes)",
            "intent-project:lock",
            "intent-project:unlock",
            "intent-change:retry",
            "intent-change:abandon",
        ),
        _role("reader", "See projects, resources, history and policies"),
    )
}


def unknown_actions(actions: list[str] | frozenset[str]) -> list[str]:
    return sorted(set(actions) - set(ACTIONS))
