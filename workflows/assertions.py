"""Actor assertions: who sent an update, signed by intent, checked by the workflow.

Temporal accepts an update from anyone who reaches its port, so an actor written into
an update's payload proves nothing. The server (and the worker, when it renews a lease
for a change) therefore signs the actor it authenticated: an HMAC over the actor, the
workflow id, the update's name, an expiry and a nonce, under a key derived from the
secret key that server and worker share. Update validators verify it and refuse a
missing, expired, altered or misdirected assertion before the update enters history.

Verification happens only in validators, which Temporal does not run on replay, so a
rotated key never makes an old history fail to replay. Handlers read the actor from the
request they were given (the validator already checked it).

Pure and deterministic apart from the key registry below: safe to import in workflows.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import BaseModel

from workflows.actor import Actor

__all__ = [
    "ASSERTION_SKEW_SECONDS",
    "ASSERTION_TTL_SECONDS",
    "KEY_PURPOSE",
    "ActorAssertionError",
    "ActorSigner",
    "AssertionKeys",
    "VerifiedAssertion",
    "assertion_expiry",
    "keys_for",
    "question",
    "register_keys",
    "sign_actor",
    "verify_actor",
]

# Long enough for a slow Temporal round trip, short enough that a copy lifted from a
# workflow's history is useless soon after.
ASSERTION_TTL_SECONDS = 120.0
# Server and Temporal clocks may disagree a little.
ASSERTION_SKEW_SECONDS = 30.0

_VERSION = "ia1"
# What the signing key is derived for from the shared secret key (server and worker).
KEY_PURPOSE = "actor-assertion"


class ActorAssertionError(ValueError):
    """The assertion is missing, malformed, expired, misdirected or not ours."""


@dataclass(frozen=True)
class VerifiedAssertion:
    actor: Actor
    nonce: str
    expires_at: float


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, body: str) -> str:
    return _b64(hmac.new(key, f"{_VERSION}.{body}".encode(), hashlib.sha256).digest())


def question(update: str, input: BaseModel) -> str:
    """What a worker question's assertion is signed for: its name and its whole input
    (but the assertion itself), so a copy lifted from a history asks nothing else — not
    another project, kind or filter."""
    body = json.dumps(
        input.model_dump(mode="json", exclude={"assertion"}),
        sort_keys=True,
        separators=(",", ":"),
    )
    return f"{update}:{hashlib.sha256(body.encode()).hexdigest()}"


def sign_actor(
    key: bytes,
    actor: Actor,
    *,
    workflow_id: str,
    update: str,
    now: float,
    ttl: float = ASSERTION_TTL_SECONDS,
) -> str:
    """An assertion that ``actor`` sends ``update`` to ``workflow_id``, valid for ``ttl``."""
    claims = {
        "actor": actor.model_dump(mode="json"),
        "wf": workflow_id,
        "up": update,
        "exp": round(now + ttl, 3),
        "n": secrets.token_urlsafe(12),
    }
    body = _b64(json.dumps(claims, sort_keys=True, separators=(",", ":")).encode())
    return f"{_VERSION}.{body}.{_mac(key, body)}"


def verify_actor(
    keys: Sequence[bytes],
    assertion: str,
    *,
    workflow_id: str,
    update: str,
    now: float,
) -> VerifiedAssertion:
    """The actor an assertion vouches for; raises :class:`ActorAssertionError`.

    ``keys`` are every active key (the first signs; the others still verify during a
    key rotation).
    """
    if not assertion:
        raise ActorAssertionError("the request carries no signed actor assertion")
    version, _, rest = assertion.partition(".")
    body, _, mac = rest.partition(".")
    if version != _VERSION or not body or not mac:
        raise ActorAssertionError("the actor assertion is malformed")
    if not any(hmac.compare_digest(mac, _mac(key, body)) for key in keys):
        raise ActorAssertionError("the actor assertion's signature does not verify")
    try:
        claims = json.loads(_unb64(body))
        actor = Actor.model_validate(claims["actor"])
        target, name = str(claims["wf"]), str(claims["up"])
        expires, nonce = float(claims["exp"]), str(claims["n"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ActorAssertionError("the actor assertion's claims are malformed") from exc
    if target != workflow_id or name != update:
        raise ActorAssertionError(
            f"the actor assertion was issued for {name!r} on {target}, not for {update!r} "
            f"on {workflow_id}"
        )
    if now > expires + ASSERTION_SKEW_SECONDS:
        raise ActorAssertionError("the actor assertion has expired; send the request again")
    return VerifiedAssertion(actor=actor, nonce=nonce, expires_at=expires)


def assertion_expiry(assertion: str) -> float:
    """When an assertion expires, read without verifying (for pruning replay records in
    handlers, which may run on replay long after the key changed)."""
    try:
        _, body, _ = assertion.split(".")
        return float(json.loads(_unb64(body))["exp"])
    except (ValueError, KeyError, TypeError):
        return 0.0


class ActorSigner:
    """Signs actors for updates; held by the server and by the worker (lease renewals)."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def sign(self, actor: Actor, *, workflow_id: str, update: str) -> str:
        return sign_actor(self._key, actor, workflow_id=workflow_id, update=update, now=time.time())


# -- which keys a worker's validators use ---------------------------------------------------


@dataclass(frozen=True)
class AssertionKeys:
    """What validators on one task queue check against."""

    keys: tuple[bytes, ...]
    # Retry/abandon typed into the Temporal UI (no assertion) are accepted and recorded
    # as "temporal-ui", unverified. Confirm and reject never are.
    temporal_ui_operators: bool = False


# Registered by the worker when it starts, keyed by task queue (tests run several
# stacks with different keys in one process). Validators are not replayed, so reading
# this process state from them keeps workflows deterministic.
_REGISTRY: dict[str, AssertionKeys] = {}


def register_keys(task_queue: str, keys: AssertionKeys) -> None:
    _REGISTRY[task_queue] = keys


def keys_for(task_queue: str) -> AssertionKeys:
    """The keys for ``task_queue``; none registered means nothing verifies."""
    return _REGISTRY.get(task_queue, AssertionKeys(keys=()))
