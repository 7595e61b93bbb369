"""Seal what earlier versions stored in the clear: resource configs, states and private
bytes, change-request configs, integration credentials, and secret variables sealed
with the older scheme (Fernet).

Runs with the keyring the migrating process bound to its database (store.db); the
columns keep their types (a sealed JSON value is a JSON string).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_CREDENTIAL_WORDS = ("secret", "password", "token", "key", "credential")


def _box() -> Any:
    bound = getattr(op.get_bind().dialect, "intent_secrets", None)
    if bound is None:
        raise RuntimeError(
            "sealing existing secrets needs the secret key: start intent (server or worker) "
            "with INTENT_SECRET_KEY or its key file so the migration can run"
        )
    return bound.box


def _sealed(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(("enc:v1:", "fernet:"))


def _loads(value: Any) -> Any:
    # SQLite hands JSON back as text through a plain column; PostgreSQL as values.
    return json.loads(value) if isinstance(value, str) and not _sealed(value) else value


def _seal_json(box: Any, value: Any) -> str:
    return str(box.seal(json.dumps(value, separators=(",", ":"), sort_keys=True)))


def _seal_credentials(box: Any, value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: str(box.seal(v))
            if any(w in str(k).lower() for w in _CREDENTIAL_WORDS)
            and isinstance(v, str)
            and v
            and not _sealed(v)
            else _seal_credentials(box, v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_seal_credentials(box, v) for v in value]
    return value


def upgrade() -> None:
    bind = op.get_bind()
    resources = sa.table(
        "resources",
        sa.column("id", sa.String),
        sa.column("config", sa.JSON),
        sa.column("state", sa.JSON),
        sa.column("private", sa.Text),
    )
    changes = sa.table("changes", sa.column("id", sa.String), sa.column("request", sa.JSON))
    integrations = sa.table(
        "integrations", sa.column("id", sa.String), sa.column("config", sa.JSON)
    )
    variables = sa.table(
        "environment_variables",
        sa.column("project_id", sa.String),
        sa.column("name", sa.String),
        sa.column("value", sa.Text),
        sa.column("secret", sa.Boolean),
    )
    box: Any = None

    def keyring() -> Any:
        nonlocal box
        box = box or _box()
        return box

    for rid, config, state, private in bind.execute(
        sa.select(resources.c.id, resources.c.config, resources.c.state, resources.c.private)
    ).all():
        values: dict[str, Any] = {}
        config, state = _loads(config), _loads(state)
        if config is not None and not _sealed(config):
            values["config"] = _seal_json(keyring(), config)
        if state is not None and not _sealed(state):
            values["state"] = _seal_json(keyring(), state)
        if private is not None and not _sealed(private):
            values["private"] = _seal_json(keyring(), private)
        if values:
            bind.execute(resources.update().where(resources.c.id == rid).values(**values))

    for cid, request in bind.execute(sa.select(changes.c.id, changes.c.request)).all():
        ops = _loads(request) or []
        if not any(o.get("config") is not None and not _sealed(o["config"]) for o in ops):
            continue
        sealed = [
            {
                **o,
                "config": o["config"]
                if o.get("config") is None or _sealed(o["config"])
                else _seal_json(keyring(), o["config"]),
            }
            for o in ops
        ]
        bind.execute(changes.update().where(changes.c.id == cid).values(request=sealed))

    for iid, config in bind.execute(sa.select(integrations.c.id, integrations.c.config)).all():
        current = _loads(config) or {}
        sealed_config = _seal_credentials(keyring(), current) if current else current
        if sealed_config != current:
            bind.execute(
                integrations.update().where(integrations.c.id == iid).values(config=sealed_config)
            )

    for project_id, name, value in bind.execute(
        sa.select(variables.c.project_id, variables.c.name, variables.c.value).where(
            variables.c.secret.is_(True)
        )
    ).all():
        if isinstance(value, str) and value.startswith("fernet:"):
            bind.execute(
                variables.update()
                .where(variables.c.project_id == project_id, variables.c.name == name)
                .values(value=keyring().reseal(value))
            )


def downgrade() -> None:
    raise RuntimeError("secrets sealed at rest are not unsealed by a downgrade")
