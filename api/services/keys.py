"""API keys: bearer tokens for CI and scripts. Scoped (``mcp:read``/``mcp:write``, and
optionally one space), expiring, revocable; the clear value is shown once."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, Field

from access.permissions import is_allowed, key_refusal
from access.scopes import ALL_SCOPES, normalize_scopes
from api.context import Caller
from api.errors import Conflict, Forbidden, Invalid, NotFound
from api.services.access import (
    ROOT_PATH,
    bind_in_root,
    deny,
    load_space,
    path_of,
    require_grantable,
    require_over,
    require_root,
)
from store import audit, identities
from store.models import Identity, Token
from store.types import utcnow

__all__ = ["KeyCreate", "KeyCreated", "KeyView", "create_key", "list_keys", "revoke_key"]

MAX_DAYS = 3650
USER_ADMIN = "intent-user:manage"


class KeyCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200, description="What the key is for, e.g. ci")
    identity: str | None = Field(
        default=None,
        description="The machine identity the key acts as (user admins only; created if "
        "new). Default: you.",
    )
    scopes: list[str] = Field(default_factory=lambda: list(ALL_SCOPES))
    expires_in_days: float | None = Field(
        default=None,
        gt=0,
        le=MAX_DAYS,
        description="Omit for a key that does not expire (one made with an expiring key "
        "expires with it).",
    )
    space: str | None = Field(
        default=None,
        description="Limit the key to this space (name or id) and below (one made with a "
        "key limited to a space is limited to it).",
    )
    roles: list[str] = Field(
        default_factory=list, description="Roles of a new machine identity (admins only)."
    )


class KeyView(BaseModel):
    id: str
    prefix: str
    name: str
    identity: str
    scopes: list[str]
    space: str | None
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def build(cls, key: Token, identity: Identity) -> KeyView:
        return cls(
            id=key.id,
            prefix=key.prefix,
            name=key.name,
            identity=identity.name,
            scopes=list(key.scopes),
            space=key.space_id,
            created_at=key.created_at,
            expires_at=key.expires_at,
            last_used_at=key.last_used_at,
            revoked_at=key.revoked_at,
        )


class KeyCreated(KeyView):
    key: str = Field(description="The key itself. Shown only now; only its hash is kept.")


async def create_key(caller: Caller, body: KeyCreate) -> KeyCreated:
    """A key for yourself, or (user admins) for a machine identity: new ones are created
    with ``roles``. A key never reaches further than the credential that made it: its
    space and expiry default to the caller's key's, and may not exceed them."""
    unknown = set(body.scopes) - set(ALL_SCOPES)
    if unknown or not body.scopes:
        raise Invalid(f"scopes must be among {', '.join(ALL_SCOPES)} (got {body.scopes})")
    principal = caller.principal
    own = body.identity is None or body.identity == caller.actor.name
    if own and body.roles:
        raise Invalid(
            "roles are for a new machine identity (name it in identity); your own roles "
            "come from role bindings, which a space admin makes"
        )
    scopes = normalize_scopes(body.scopes)
    space_id = body.space if body.space is not None else principal.space_limit
    path = None
    if space_id is not None:
        space = await load_space(caller, space_id)
        space_id = space.id
        path = await path_of(caller, space.id)
    if body.expires_in_days:
        expires_at: datetime | None = utcnow() + timedelta(days=body.expires_in_days)
    else:
        expires_at = principal.key_expires_at
    deny(key_refusal(principal, scopes=scopes, path=path, expires_at=expires_at))
    identity = await _own(caller) if own else await _machine(caller, body)
    async with caller.db.transaction() as session:
        clear = await identities.create_token(
            session,
            identity,
            body.name,
            expires_at=expires_at,
            scopes=scopes,
            space_id=space_id,
            created_by=caller.actor.id,
        )
        found = await identities.find_key(session, clear)
        assert found is not None
        await audit.record(
            session,
            "key_created",
            subject_id=identity.id,
            subject_name=identity.name,
            actor=caller.actor,
            details={"key": found[0].id, "name": body.name, "scopes": scopes, "space": space_id},
        )
    return KeyCreated(**KeyView.build(found[0], identity).model_dump(), key=clear)


async def _own(caller: Caller) -> Identity:
    async with caller.db.session() as session:
        identity = await session.get(Identity, caller.actor.id)
    if identity is None:  # the host's own admin (CLI) is nobody's account
        raise Invalid("name the machine identity the key acts as (identity)")
    return identity


async def _machine(caller: Caller, body: KeyCreate) -> Identity:
    """The machine identity a key for someone else acts as: created with ``roles`` if
    new. A key acting as a person would let its maker be that person: people make
    their own keys."""
    assert body.identity is not None
    require_root(caller, USER_ADMIN)
    async with caller.db.session() as session:
        identity = await identities.find_identity(session, body.identity)
    if identity is not None and identity.kind != "machine":
        raise Forbidden(
            f"{identity.name} is a person, and only they make keys that act as them (signed "
            "in: the Access page or POST /api/v1/keys); for automation, name a machine "
            "identity (a new name creates one)"
        )
    if identity is not None:
        await require_over(caller, identity, "make an API key for")
    await require_grantable(caller, body.roles, ROOT_PATH, to=body.identity)
    async with caller.db.transaction() as session:
        identity = await identities.ensure_identity(session, body.identity, kind="machine")
        if identity.kind != "machine":  # made a person meanwhile
            raise Conflict(f"{identity.name} became a person meanwhile; pick another name")
        await bind_in_root(session, caller, identity, body.roles)
    return identity


async def list_keys(caller: Caller, *, everyone: bool = False) -> list[KeyView]:
    """Your keys; with ``everyone`` (admins) every key."""
    if everyone:
        require_root(caller, USER_ADMIN)
    async with caller.db.session() as session:
        rows = await identities.list_tokens(
            session, identity_id=None if everyone else caller.actor.id
        )
    return [KeyView.build(key, identity) for key, identity in rows]


async def revoke_key(caller: Caller, ref: str) -> KeyView:
    """Revoke one of your keys (by id or shown prefix); admins may revoke any."""
    admin = is_allowed(caller.principal, USER_ADMIN, ROOT_PATH)
    mine_only = None if admin else caller.actor.id
    async with caller.db.transaction() as session:
        key = await identities.revoke_token(session, ref, identity_id=mine_only)
        if key is None:
            raise NotFound(f"no single API key of yours matches {ref!r}; see the key list")
        identity = await session.get(Identity, key.identity_id)
        assert identity is not None
        await audit.record(
            session,
            "key_revoked",
            subject_id=identity.id,
            subject_name=identity.name,
            actor=caller.actor,
            details={"key": key.id, "name": key.name},
        )
    return KeyView.build(key, identity)
