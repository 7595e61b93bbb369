"""Column types shared by every table: UTC times, JSON that is JSONB on PostgreSQL, ULIDs."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator
from ulid import ULID

from store.secrets import SecretBox, SecretKeyError, is_sealed

__all__ = [
    "BoundSecrets",
    "CredentialsJSON",
    "JSONType",
    "Sealed",
    "SealedJSON",
    "SealedRequest",
    "SealedText",
    "UTCDateTime",
    "bind_secrets",
    "looks_like_id",
    "new_id",
    "utcnow",
]

JSONType = JSON().with_variant(JSONB(), "postgresql")


def new_id() -> str:
    """A ULID: sortable by creation time, safe in URLs and workflow ids."""
    return str(ULID())


# A ULID's text: 26 characters of Crockford's base32 (no I, L, O, U).
_ID_SHAPE = re.compile(r"[0-9A-HJKMNP-TV-Z]{26}", re.IGNORECASE)


def looks_like_id(name: str) -> bool:
    """Whether ``name`` could be an id ``new_id`` made: where things are found by id or
    name, such names would let one thing pass for another."""
    return _ID_SHAPE.fullmatch(name) is not None


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in and out, also on SQLite, which stores naive text."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; use datetime.now(UTC)")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        moment: datetime = value
        if moment.tzinfo is None:
            return moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)


# -- secrets at rest -------------------------------------------------------------------------
#
# Columns that may hold secret values (configs, states, private bytes, change requests,
# integration credentials) are sealed with the keyring bound to the engine's dialect
# (``store.db.Database.use_secrets``): writes always seal; reads open only in a process
# allowed to (the worker). Elsewhere (the server) a sealed value reads as ``Sealed``, an
# opaque token that is written back unchanged.


@dataclass(frozen=True)
class Sealed:
    """A value this process may not open; carried through unchanged."""

    token: str

    def __repr__(self) -> str:
        return "Sealed(…)"


@dataclass(frozen=True)
class BoundSecrets:
    box: SecretBox
    may_open: bool


def bind_secrets(dialect: Dialect, secrets: BoundSecrets) -> None:
    dialect.intent_secrets = secrets  # type: ignore[attr-defined]


def _secrets(dialect: Dialect) -> BoundSecrets:
    bound: BoundSecrets | None = getattr(dialect, "intent_secrets", None)
    if bound is None:
        raise SecretKeyError(
            "this process has no secret key bound to its database, so it may not write "
            "values that are sealed at rest (Database.use_secrets)"
        )
    return bound


def _seal(value: Any, dialect: Dialect) -> str:
    if isinstance(value, Sealed):
        return value.token
    return _secrets(dialect).box.seal(json.dumps(value, separators=(",", ":"), sort_keys=True))


def _open(value: Any, dialect: Dialect) -> Any:
    if not is_sealed(value):
        return value  # written before secrets were sealed at rest (migration 0005 seals it)
    bound: BoundSecrets | None = getattr(dialect, "intent_secrets", None)
    if bound is None or not bound.may_open:
        return Sealed(value)
    return json.loads(bound.box.open(value))


class _JSONColumn(TypeDecorator[Any]):
    """JSON, JSONB on PostgreSQL (like ``JSONType``), for the sealed column types."""

    impl = JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        return dialect.type_descriptor(JSONB() if dialect.name == "postgresql" else JSON())


class SealedJSON(_JSONColumn):
    """A JSON value stored sealed as a whole (resource config and state)."""

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else _seal(value, dialect)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else _open(value, dialect)


class SealedText(TypeDecorator[Any]):
    """A string stored sealed (a provider's private bytes, base64)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else _seal(value, dialect)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else _open(value, dialect)


class SealedRequest(_JSONColumn):
    """A change request: operations in the clear, each one's config and retry patches
    sealed (the server lists and counts operations without opening anything)."""

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return _each_operation(value, lambda v: _seal(v, dialect))

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        return _each_operation(value, lambda v: _open(v, dialect))


def _each_operation(request: Any, change: Callable[[Any], Any]) -> Any:
    if request is None:
        return None
    return [
        {
            **op,
            "config": None if op.get("config") is None else change(op["config"]),
            "patches": [change(p) for p in op.get("patches") or []],
        }
        for op in request
    ]


class CredentialsJSON(_JSONColumn):
    """A provider configuration whose credential-looking values are sealed one by one
    (integrations: region and the like stay readable for listings)."""

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        return _secrets(dialect).box.seal_credentials(_tokens(value))

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        bound: BoundSecrets | None = getattr(dialect, "intent_secrets", None)
        if bound is None or not bound.may_open:
            return value  # sealed credentials stay tokens (listings mask them anyway)
        return bound.box.open_credentials(value)


def _tokens(value: Any) -> Any:
    """``Sealed`` placeholders back to their tokens, at any depth."""
    if isinstance(value, Sealed):
        return value.token
    if isinstance(value, dict):
        return {k: _tokens(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_tokens(v) for v in value]
    return value
