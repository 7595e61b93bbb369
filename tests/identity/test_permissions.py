"""The permission rules on their own (pure: what the workflows import too)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from access.actions import ACTIONS
from access.models import Grant, Principal, SpaceRef
from access.permissions import (
    MOVE,
    change_refusal,
    effective_actions,
    grant_refusal,
    is_allowed,
    key_refusal,
    move_refusal,
    outranked_refusal,
    refusal,
    sign_in_refusal,
)
from access.roles import BUILTIN_ROLES, Role

ROOT = SpaceRef("root", "root")
TEAM = SpaceRef("t", "team")
WEB = SpaceRef("w", "web")
OPS = SpaceRef("o", "ops")
USER_ADMIN = "intent-user:manage"


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
    def decide(
        actions: set[str],
        *,
        own: bool,
        verb: str,
        review: bool = False,
        scopes: tuple[str, ...] = ("mcp:read", "mcp:write"),
    ) -> str | None:
        return change_refusal(
            frozenset(actions),
            scopes=scopes,
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
    # A read-only credential decides nothing, not even on its own change.
    for verb in ("confirm", "reject", "retry", "abandon"):
        refused = decide(admin, own=True, verb=verb, scopes=("mcp:read",)) or ""
        assert refused.startswith(f"ana's credential is read-only (mcp:read): it may not {verb}")


def test_nobody_grants_more_than_they_hold_where_it_applies() -> None:
    writer_in_team = principal("space-writer", "t")
    writer = BUILTIN_ROLES["space-writer"].actions
    assert grant_refusal(writer_in_team, writer, (ROOT, TEAM, WEB), what="bind x") is None
    refused = grant_refusal(writer_in_team, writer, (ROOT,), what="give bot role space-writer")
    assert refused is not None
    assert refused.startswith("ana may not give bot role space-writer in space root: it grants")
    users_only = Principal(
        id="m",
        name="mallory",
        grants=(Grant(space="root", role="user-manager", actions=frozenset({USER_ADMIN})),),
    )
    admin = BUILTIN_ROLES["space-admin"].actions
    assert "intent-space:admin" in (grant_refusal(users_only, admin, (ROOT,), what="x") or "")


def test_only_someone_holding_as_much_manages_a_user() -> None:
    root_admin = Grant(
        space="root", role="space-admin", actions=BUILTIN_ROLES["space-admin"].actions
    )
    team_reader = Grant(space="t", role="reader", actions=BUILTIN_ROLES["reader"].actions)
    manager = Principal(
        id="m",
        name="mallory",
        grants=(
            Grant(space="root", role="user-manager", actions=frozenset({USER_ADMIN})),
            Grant(space="t", role="space-admin", actions=BUILTIN_ROLES["space-admin"].actions),
        ),
    )
    refused = outranked_refusal(manager, "root", [(root_admin, (ROOT,))], doing="disable")
    assert refused is not None and refused.startswith("mallory may not disable root: root holds")
    assert "in space root (role space-admin)" in refused
    assert outranked_refusal(manager, "ana", [(team_reader, (ROOT, TEAM))], doing="x") is None
    assert outranked_refusal(manager, "new", [], doing="x") is None


def test_keys_stay_within_the_key_that_made_them() -> None:
    ends = datetime(2030, 1, 1, tzinfo=UTC)
    limited = principal("space-writer", "root", space_limit="t", key_id="k", key_expires_at=ends)

    def make(
        path: tuple[SpaceRef, ...] | None = (ROOT, TEAM, WEB), expires_at: datetime | None = ends
    ) -> str | None:
        return key_refusal(limited, scopes=["mcp:read"], path=path, expires_at=expires_at)

    assert make() is None
    assert "may not reach space ops" in (make(path=(ROOT, OPS)) or "")
    assert "may not reach every space" in (make(path=None) or "")
    later = make(expires_at=ends + timedelta(seconds=1)) or ""
    assert (
        "expires at 2030-01-01T00:00:00+00:00, so a key made with it must expire by then" in later
    )
    assert "must expire by then" in (make(expires_at=None) or "")
    read_only = principal("space-writer", "root", scopes=("mcp:read",))
    assert key_refusal(read_only, scopes=["mcp:read"], path=None, expires_at=None) == (
        "a read-only credential cannot create API keys"
    )
    # Scopes, too (today write implies read; the rule does not depend on it).
    write_only = principal("space-writer", "root", scopes=("mcp:write",))
    wider = key_refusal(write_only, scopes=["mcp:read"], path=None, expires_at=None)
    assert wider == (
        "ana's credential lacks mcp:read, so a key made with it may not have it either; ask "
        "for fewer scopes"
    )


def test_passwords_and_consents_need_a_full_sign_in() -> None:
    assert sign_in_refusal(principal("reader", "root"), "set passwords") is None
    by_key = sign_in_refusal(principal("space-admin", "root", key_id="k"), "set passwords")
    assert by_key is not None and by_key.startswith("ana may not set passwords with an API key")
    read_only = sign_in_refusal(principal("reader", "root", scopes=("mcp:read",)), "authorize apps")
    assert read_only is not None and "read-only" in read_only


def test_moves_need_move_where_it_is_and_widen_nothing() -> None:
    mover = Role("mover", "", BUILTIN_ROLES["space-writer"].actions | {MOVE})
    admin = BUILTIN_ROLES["space-admin"].actions
    alice = Principal(
        id="a",
        name="alice",
        grants=(
            Grant(space="t", role="space-writer", actions=BUILTIN_ROLES["space-writer"].actions),
            Grant(space="o", role="space-admin", actions=admin),
        ),
    )
    into_own = move_refusal(alice, (ROOT, TEAM), (ROOT, OPS))
    assert into_own is not None and "needs intent-project:move" in into_own
    alice_mover = Principal(
        id="a",
        name="alice",
        grants=(
            Grant(space="t", role="mover", actions=mover.actions),
            Grant(space="o", role="space-admin", actions=admin),
        ),
    )
    widening = move_refusal(alice_mover, (ROOT, TEAM), (ROOT, OPS))
    assert widening is not None
    assert widening.startswith("alice may not move projects from space team to space ops")
    assert "intent-space:admin" in widening
    assert move_refusal(alice_mover, (ROOT, OPS), (ROOT, TEAM)) is None
    assert move_refusal(principal("space-admin", "root"), (ROOT, TEAM), (ROOT, OPS)) is None
