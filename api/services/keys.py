"""API keys: bearer tokens for CI and scripts. Scoped (``mcp:read``/``mcp:write``, and
optionally one space), expiring, revocable; the clear value is shown once."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, Field

from access.permissions import is_allowed
from access.scopes import ALL_SCOPES, allows_writes, normalize_scopes
from api.context import Caller
from api.errors import Forbidden, Invalid, NotFound
from api.services.access import ROOT_PATH, require_root
from store import access as access_store
from store import audit, identities
from store.models import Identity, Space, Token
from store.types import utcnow

__all__ = ["KeyCreate", "KeyCreated", "KeyView", "create_key", "list_keys", "revoke_key"]

MAX_DAYS = 3650
USER_ADMIN = "intent-user:manage"


class KeyCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200, description="What the key is for, e.g. ci")
    identity: str | None = Field(
        default=None,
        description="Who the key acts as (admins only; a machine identity is created if "
        "new). Default: you.",
    )
    scopes: list[str] = Field(default_factory=lambda: list(ALL_SCOPES))
    expires_in_days: float | None = Field(
        default=None, gt=0, le=MAX_DAYS, description="Omit for a key that does not expire."
    )
    space: str | None = Field(default=None, description="Limit the key to this space (and below).")
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
    unknown = set(body.scopes) - set(ALL_SCOPES)
    if unknown or not body.scopes:
        raise Invalid(f"scopes must be among {', '.join(ALL_SCOPES)} (got {body.scopes})")
    own = body.identity is None or body.identity == caller.actor.name
    if not own or body.roles:
        # A key for another identity (or one with roles) is a new way in: user admins only.
        require_root(caller, USER_ADMIN)
    if not allows_writes(caller.actor.scopes):
        # A key never reaches further than the one who made it.
        raise Forbidden("a read-only credential cannot create API keys")
    scopes = normalize_scopes(body.scopes)
    expires_at = utcnow() + timedelta(days=body.expires_in_days) if body.expires_in_days else None
    async with caller.db.transaction() as session:
        if body.space is not None:
            space = await session.get(Space, body.space)
            if space is None:
                raise NotFound(f"there is no space {body.space!r}")
        if own:
            identity = await session.get(Identity, caller.actor.id)
            assert identity is not None
        else:
            assert body.identity is not None
            identity = await identities.ensure_identity(session, body.identity, kind="machine")
            for role in body.roles:
                await access_store.bind(
                    session,
                    role=role,
                    subject_kind="user",
                    subject=identity.id,
                    created_by=caller.actor.id,
                )
        clear = await identities.create_token(
            session,
            identity,
            body.name,
            expires_at=expires_at,
            scopes=scopes,
            space_id=body.space,
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
            details={"key": found[0].id, "name": body.name, "scopes": scopes, "space": body.space},
        )
    return KeyCreated(**KeyView.build(found[0], identity).model_dump(), key=clear)


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
