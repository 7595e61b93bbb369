"""The permission rules on their own (pure: what the workflows import too)."""

from __future__ import annotations

from access.actions import ACTIONS
from access.models import Grant, Principal, SpaceRef
from access.permissions import change_refusal, effective_actions, is_allowed, refusal
from access.roles import BUILTIN_ROLES

ROOT = SpaceRef("root", "root")
TEAM = SpaceRef("t", "team")
WEB = SpaceRef("w", "web")
OPS = SpaceRef("o", "ops")


def principal(role: str, space: str, **limits: object) -> Principal:
    grant = Grant(space=space, role=role, actions=BUILTIN_ROLES[role].actions)
    return Principal(id="u", name="ana", grants=(grant,), **limits)  # type: ignore[arg-type]


def test_bindings_inherit_downward_only() -> None:
    writer = principal("space-writer", "t")
    assert is_allowed(writer, "intent-resource:create", (ROOT, TEAM, WEB))
    assert is_allowed(writer, "intent-resource:create", (ROOT, TEAM))
    assert not is_allowed(writer, "intent-resource:create", (ROOT,))
    assert not is_allowed(writer, "intent-project:read", (ROOT, OPS))


def test_scopes_and_key_limits_are_ceilings() -> None:
    read_only = principal("space-admin", "root", scopes=("mcp:read",))
    held = effective_actions(read_only, (ROOT,))
    assert held and all(not ACTIONS[a].writes for a in held)
    reason = refusal(read_only, "intent-project:create", (ROOT,))
    assert reason is not None and "read-only" in reason and "mcp:write" in reason

    limited = principal("space-admin", "root", space_limit="t")
    assert is_allowed(limited, "intent-project:create", (ROOT, TEAM, WEB))
    assert effective_actions(limited, (ROOT, OPS)) == frozenset()
    assert "limited to another space" in (refusal(limited, "intent-project:read", (ROOT,)) or "")


def test_refusals_name_the_action_and_a_role_that_has_it() -> None:
    reader = principal("reader", "root")
    assert refusal(reader, "intent-project:read", (ROOT,)) is None
    assert refusal(reader, "intent-policy:update", (ROOT, TEAM)) == (
        "ana may not change policies in space team: that needs intent-policy:update there or "
        "in a space above it (role space-admin or policy-author); ask a space admin to bind "
        "such a role"
    )


def test_the_built_in_roles_keep_authors_and_operators_apart() -> None:
    resource = {a for a in ACTIONS if a.startswith("intent-resource:")}
    policy_writes = {a for a in ACTIONS if a.startswith("intent-policy:") and ACTIONS[a].writes}
    assert not BUILTIN_ROLES["policy-author"].actions & resource
    assert not BUILTIN_ROLES["operator"].actions & policy_writes
    assert all(not ACTIONS[a].writes for a in BUILTIN_ROLES["reader"].actions)
    assert BUILTIN_ROLES["space-admin"].actions == frozenset(ACTIONS)
    for role in BUILTIN_ROLES.values():
        assert role.actions <= set(ACTIONS), role.name


def test_change_decisions() -> None:
    def decide(actions: set[str], *, own: bool, verb: str, review: bool = False) -> str | None:
        return change_refusal(
            frozenset(actions),
            actor_id="u" if own else "someone",
            actor_name="ana",
            requester_id="u",
            requester_name="bob",
            verb=verb,
            change_id="c1",
            review=review,
        )

    writer = set(BUILTIN_ROLES["space-writer"].actions)
    reviewer = set(BUILTIN_ROLES["reviewer"].actions)
    operator = set(BUILTIN_ROLES["operator"].actions)
    admin = set(BUILTIN_ROLES["space-admin"].actions)
    # Own deletes/replacements: with intent-change:confirm; withdrawing always.
    assert decide(writer, own=True, verb="confirm") is None
    assert decide(set(), own=True, verb="confirm") is not None
    assert decide(set(), own=True, verb="reject") is None
    # Someone else's: only a space admin (outside review).
    assert "only bob" in (decide(writer, own=False, verb="confirm") or "")
    assert decide(admin, own=False, verb="confirm") is None
    # Review: someone else with intent-change:review; never your own unless admin.
    assert decide(reviewer, own=False, verb="confirm", review=True) is None
    assert "their own change" in (decide(reviewer, own=True, verb="confirm", review=True) or "")
    assert decide(admin, own=True, verb="confirm", review=True) is None
    assert "needs intent-change:review" in (
        decide(writer, own=False, verb="reject", review=True) or ""
    )
    # Failed changes: the requester, or intent-change:retry/abandon.
    assert decide(set(), own=True, verb="retry") is None
    assert decide(operator, own=False, verb="abandon") is None
    assert "intent-change:retry" in (decide(writer, own=False, verb="retry") or "")
