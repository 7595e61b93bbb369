"""The one place that decides who may do what, where.

Every door asks here: the REST API, the MCP tools, the web UI and the CLI (through
the shared services), and the workflows' update validators (which hold no database,
so they decide with the actions the server resolved and signed into the actor).

Rules:
- A role bound in a space grants its actions there and in every space below it.
- A credential's scopes are a ceiling: without ``mcp:write`` no action that writes.
- An API key limited to a space reaches nothing outside that space's subtree.
- Nobody hands out more than they hold: a role bound, the roles of a new identity or
  actions added to a custom role must all be held by whoever grants them, where they
  apply (``grant_refusal``); and nobody manages a user (password, keys, disabling) who
  holds more than they do (``outranked_refusal``).
- What a credential makes never reaches further than the credential: an API key made
  with another key keeps within its scopes, space and lifetime (``key_refusal``);
  passwords and OAuth consents come only from a full sign-in, never from an API key
  or a read-only token (``sign_in_refusal``).
- Moving a project needs ``intent-project:move`` where it is and
  ``intent-project:create`` where it goes, and may not widen what the mover may do to
  it (``move_refusal``).
- Changes have owners: whoever asked may always withdraw (reject) their change and
  retry or abandon it when it failed; confirming a delete or replacement of their own
  change needs ``intent-change:confirm``; a change a policy sent to review needs someone
  else holding ``intent-change:review`` (a space admin may approve their own); another
  person's failed change needs ``intent-change:retry`` / ``intent-change:abandon``. A
  read-only credential decides nothing, not even on its own change; fixing a failed
  operation's configuration needs the resource action of that operation
  (``operation_action``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from access.actions import ACTIONS, describe
from access.models import Grant, Principal, SpacePath
from access.roles import BUILTIN_ROLES
from access.scopes import WRITE, allows_writes

__all__ = [
    "ADMIN",
    "MOVE",
    "action_refusal",
    "change_refusal",
    "effective_actions",
    "grant_refusal",
    "is_allowed",
    "key_refusal",
    "move_refusal",
    "operation_action",
    "outranked_refusal",
    "refusal",
    "roles_with",
    "sign_in_refusal",
    "ttl_refusal",
]

ADMIN = "intent-space:admin"
MOVE = "intent-project:move"


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
        return _read_only(who, principal.scopes, info.does)
    return action_refusal(frozenset(), action, who=who, where=f"space {where}")


def _read_only(who: str, scopes: Iterable[str], does: str) -> str:
    held = " ".join(scopes) or "no scopes"
    return (
        f"{who}'s credential is read-only ({held}): it may not {does}; sign in again "
        f"granting {WRITE}, or use a key that has it"
    )


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
    scopes: Iterable[str],
    actor_id: str,
    actor_name: str,
    requester_id: str,
    requester_name: str,
    verb: str,
    change_id: str,
    review: bool = False,
) -> str | None:
    """Why the actor may not ``verb`` (confirm, reject, retry, abandon) the change, or None.

    ``actions`` are the actor's effective actions in the change's project, ``scopes``
    its credential's: a read-only credential decides nothing, not even as the requester
    (a retry runs the change again, with whatever fixes come with it).
    """
    if not allows_writes(scopes):
        return _read_only(actor_name, scopes, f"{verb} change {change_id}")
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


def operation_action(kind: str) -> str:
    """The action an operation of ``kind`` needs (create, update, delete, import,
    refresh): asked when a change is submitted and when a retry fixes its configuration."""
    return f"intent-resource:{kind}"


# -- handing out ---------------------------------------------------------------------------


def grant_refusal(
    principal: Principal, actions: frozenset[str], path: SpacePath, *, what: str
) -> str | None:
    """Why ``principal`` may not hand out ``actions`` in ``path`` — ``what`` completes
    "may not …" (bind role X, give ana role X, add actions to role X) — or None.

    Nobody grants more than they hold where the grant applies: otherwise a narrow admin
    role (or one that only manages users) mints a wider one.
    """
    beyond = sorted(actions - effective_actions(principal, path))
    if not beyond:
        return None
    who = principal.name
    where = path[-1].name if path else "this space"
    return (
        f"{who} may not {what} in space {where}: it grants {', '.join(beyond)}, which {who} "
        "does not hold there; ask someone who holds them"
    )


def outranked_refusal(
    principal: Principal,
    subject: str,
    holdings: Iterable[tuple[Grant, SpacePath]],
    *,
    doing: str,
) -> str | None:
    """Why ``principal`` may not ``doing`` (set the password of, make a key for, disable)
    ``subject``, who holds ``holdings`` (each grant with its space's path), or None.

    Acting as someone, or taking over their sign-in, is holding what they hold: so only
    someone who holds at least as much, in every space where the subject holds anything,
    may do it.
    """
    for grant, path in holdings:
        beyond = sorted(grant.actions - effective_actions(principal, path))
        if beyond:
            where = path[-1].name if path else grant.space
            return (
                f"{principal.name} may not {doing} {subject}: {subject} holds "
                f"{', '.join(beyond)} in space {where} (role {grant.role}), which "
                f"{principal.name} does not; ask an admin who holds at least as much"
            )
    return None


# -- credentials that make credentials ------------------------------------------------------


def key_refusal(
    principal: Principal,
    *,
    scopes: Iterable[str],
    path: SpacePath | None,
    expires_at: datetime | None,
) -> str | None:
    """Why ``principal`` may not make an API key with these limits (``path``: the space
    it is limited to, None for none), or None.

    A key never reaches further than the credential that made it: not more scopes, not
    outside the caller's key's space, not past its expiry.
    """
    who = principal.name
    if not allows_writes(principal.scopes):
        return "a read-only credential cannot create API keys"
    wider = sorted(set(scopes) - set(principal.scopes))
    if wider:
        return (
            f"{who}'s credential lacks {', '.join(wider)}, so a key made with it may not "
            "have it either; ask for fewer scopes"
        )
    limit = principal.space_limit
    if limit is not None and (path is None or limit not in {space.id for space in path}):
        where = f"space {path[-1].name}" if path else "every space"
        return (
            f"{who}'s API key is limited to another space, so a key made with it may not "
            f"reach {where}; limit the new key to the same space or one below it"
        )
    ends = principal.key_expires_at
    if ends is not None and (expires_at is None or expires_at > ends):
        return (
            f"{who}'s API key expires at {ends.isoformat(timespec='seconds')}, so a key made "
            "with it must expire by then; ask for fewer days"
        )
    return None


def sign_in_refusal(principal: Principal, doing: str) -> str | None:
    """Why ``principal`` may not ``doing`` (set a password, authorize an app), or None.

    These make a way in that outlives an API key and ignores its limits (a password
    opens a full web session; an app's tokens refresh for weeks), so they need a full
    sign-in: a password or single sign-on session, or an OAuth token that may write.
    """
    who = principal.name
    if principal.key_id is not None:
        return (
            f"{who} may not {doing} with an API key (or a web session opened with one): "
            "sign in with your password or single sign-on and do it from there"
        )
    if not allows_writes(principal.scopes):
        return _read_only(who, principal.scopes, doing)
    return None


# -- moving projects ------------------------------------------------------------------------


def move_refusal(principal: Principal, source: SpacePath, target: SpacePath) -> str | None:
    """Why ``principal`` may not move a project from ``source`` to ``target``, or None.

    A project's space decides who may do what to it and which policies govern it, so a
    move needs ``intent-project:move`` where it is and ``intent-project:create`` where it
    goes, and may not give the mover more over the project than they hold now (a
    writer here who administers a playground would otherwise move a project there, do
    there what only admins may, and move it back).
    """
    reason = refusal(principal, MOVE, source) or refusal(principal, "intent-project:create", target)
    if reason is not None:
        return reason
    gained = sorted(effective_actions(principal, target) - effective_actions(principal, source))
    if not gained:
        return None
    return (
        f"{principal.name} may not move projects from space {source[-1].name} to space "
        f"{target[-1].name}: there {principal.name} would hold {', '.join(gained)}, which they "
        f"do not hold over it now; ask someone who holds that in space {source[-1].name} "
        "(a space admin) to move it"
    )


# What setting or bringing forward a TTL amounts to: at expiry intent deletes every
# resource of the project and confirms the deletes itself.
_TTL_CLEANUP = ("intent-project:update", "intent-resource:delete", "intent-change:confirm")


def ttl_refusal(principal: Principal, path: SpacePath, *, extends: bool) -> str | None:
    """Why ``principal`` may not set a project's TTL, or None.

    A later TTL, or none, is an extension (``intent-project:extend-ttl``, space admins).
    A first or earlier one schedules the deletion of every resource, confirmed by the
    TTL: it needs what deleting them and confirming that would, or a TTL would be a way
    to delete with only ``intent-project:update``.
    """
    if extends:
        return refusal(principal, "intent-project:extend-ttl", path)
    for action in _TTL_CLEANUP:
        reason = refusal(principal, action, path)
        if reason is not None:
            return reason
    return None
