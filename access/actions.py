"""Every action a role can grant, named ``intent-<noun>:<verb>`` after the product's nouns.

``writes`` marks the actions that change something: a read-only credential (scope
``mcp:read``) never performs them, whatever its roles.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ACTIONS", "ActionInfo", "describe"]


@dataclass(frozen=True)
class ActionInfo:
    name: str
    does: str  # completes "may not …" in an error message
    writes: bool


def _a(name: str, does: str, *, writes: bool = True) -> tuple[str, ActionInfo]:
    return name, ActionInfo(name, does, writes)


ACTIONS: dict[str, ActionInfo] = dict(
    [
        _a("intent-project:read", "see projects, their locks, changes and history", writes=False),
        _a("intent-project:create", "create projects"),
        _a("intent-project:update", "change projects' descriptions or labels"),
        _a("intent-project:move", "move projects to other spaces"),
        _a("intent-project:delete", "delete projects"),
        _a("intent-project:lock", "lock projects to work in them (project-use)"),
        _a("intent-project:unlock", "release someone else's lock"),
        _a("intent-project:extend-ttl", "extend or remove projects' TTLs"),
        _a("intent-resource:create", "create resources"),
        _a("intent-resource:update", "update resources and their dependencies"),
        _a("intent-resource:delete", "delete resources"),
        _a("intent-resource:import", "import existing resources"),
        _a("intent-resource:refresh", "refresh resources from the cloud"),
        _a(
            "intent-datasource:read", "read data sources with a project's credentials", writes=False
        ),
        _a("intent-state:read", "see resources' configuration and state", writes=False),
        _a("intent-state:eject", "eject resources from intent's state"),
        # A read, but of secrets: marked as writing so a read-only credential never does it.
        _a(
            "intent-state:export-secrets",
            "export projects with their secrets (sensitive values in the exported state)",
        ),
        _a("intent-change:confirm", "confirm deletes and replacements of their own changes"),
        _a("intent-change:review", "approve or reject changes a policy sent to review"),
        _a("intent-change:retry", "retry other people's failed changes"),
        _a("intent-change:abandon", "abandon other people's failed changes"),
        _a("intent-policy:read", "see policies and simulate them", writes=False),
        _a("intent-policy:samples", "read the inputs policies kept as samples", writes=False),
        _a("intent-policy:create", "create policies"),
        _a("intent-policy:update", "change policies"),
        _a("intent-policy:delete", "delete policies"),
        _a("intent-policy:attach", "attach or detach policies"),
        _a(
            "intent-integration:read",
            "see cloud integrations and what their roles must trust",
            writes=False,
        ),
        _a(
            "intent-integration:manage",
            "create, change or delete cloud integrations (which roles intent may assume)",
        ),
        _a("intent-integration:attach", "attach or detach cloud integrations (read access)"),
        _a(
            "intent-integration:write",
            "let projects write through their cloud integrations (the Write switch)",
        ),
        _a("intent-environment:write", "set or delete project environment variables"),
        _a("intent-provider:lock", "update projects' provider locks"),
        _a(
            "intent-space:admin",
            "administer spaces: child spaces, role bindings, sensitive settings",
        ),
        _a("intent-role:manage", "create, change or delete custom roles"),
        _a("intent-user:manage", "create, disable or enable users"),
        _a("intent-audit:read", "read the authentication audit trail", writes=False),
    ]
)


def describe(action: str) -> str:
    info = ACTIONS.get(action)
    return info.does if info else action
