"""Integrations become objects in a space, attached to projects.

Each project's provider configuration (one ``integrations`` row per project and
provider) becomes an integration of its own in the project's space plus an attachment
with the same Read / Write switches; the per-project sandbox rows become attachments of
one sandbox integration (kind ``aws``, pointing at the local moto server) in the root
space. Sealed credentials are carried over as they are, never opened.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26
"""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op
from ulid import ULID

from store.types import JSONType, UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_SANDBOX_ROLE = "arn:aws:iam::123456789012:role/intent-sandbox"


def _json(value: Any) -> Any:
    # JSON text on SQLite, already decoded from JSONB on PostgreSQL.
    return json.loads(value) if isinstance(value, str) else value


def _create_tables() -> None:
    op.create_table(
        "integrations",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("space_id", sa.String(64), sa.ForeignKey("spaces.id"), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("provider", sa.String(300), nullable=False),
        sa.Column("config", JSONType, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "integration_attachments",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column(
            "project_id",
            sa.String(64),
            sa.ForeignKey("projects.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "integration_id", sa.String(64), sa.ForeignKey("integrations.id"), nullable=False
        ),
        sa.Column("provider", sa.String(300), nullable=False),
        sa.Column("region", sa.String(64), nullable=True),
        sa.Column("read", sa.Boolean, nullable=False),
        sa.Column("write", sa.Boolean, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("project_id", "provider", name="uq_integration_attachments_provider"),
    )
    op.create_index(
        "ix_integration_attachments_integration_id",
        "integration_attachments",
        ["integration_id"],
    )


def upgrade() -> None:
    conn = op.get_bind()
    old = conn.execute(
        sa.text(
            "SELECT i.project_id, i.provider, i.kind, i.config, i.read, i.write, "
            "p.name, p.space_id FROM integrations i JOIN projects p ON p.id = i.project_id "
            "ORDER BY i.created_at"
        )
    ).all()
    # Read first, then drop: PostgreSQL keeps the old primary key's name on a renamed
    # table, which the new table needs.
    op.drop_table("integrations")
    _create_tables()

    now = datetime.now(UTC)
    integrations: list[dict[str, Any]] = []
    attachments: list[dict[str, Any]] = []
    names: set[str] = set()
    sandbox_id: str | None = None
    for project_id, provider, kind, config, read, write, project, space in old:
        config = _json(config) or {}
        region = config.get("region") if isinstance(config.get("region"), str) else None
        if kind == "sandbox":
            if sandbox_id is None:
                sandbox_id = str(ULID())
                names.add("sandbox")
                integrations.append(
                    {
                        "id": sandbox_id,
                        "name": "sandbox",
                        "space_id": "root",
                        "kind": "aws",
                        "provider": "hashicorp/aws",
                        "config": {
                            "role_arn": _SANDBOX_ROLE,
                            "read_role_arn": None,
                            "external_id": f"intent-{secrets.token_hex(16)}",
                            "region": region or "us-east-1",
                            "session_seconds": 3600,
                            "endpoint": None,
                            "sandbox": True,
                        },
                    }
                )
            integration_id = sandbox_id
        else:
            base = f"{project}-{str(provider).rsplit('/', 1)[-1]}"
            unique, n = base, 1
            while unique in names:
                n += 1
                unique = f"{base}-{n}"
            names.add(unique)
            integration_id = str(ULID())
            integrations.append(
                {
                    "id": integration_id,
                    "name": unique,
                    "space_id": space,
                    "kind": "static",
                    "provider": provider,
                    # Sealed values inside stay sealed: they are carried as tokens.
                    "config": {"provider": provider, "config": config},
                }
            )
        attachments.append(
            {
                "id": str(ULID()),
                "project_id": project_id,
                "integration_id": integration_id,
                "provider": provider,
                "region": region,
                "read": bool(read),
                "write": bool(write),
            }
        )
    stamp = {"created_by": "migration", "created_at": now, "updated_at": now}
    if integrations:
        op.bulk_insert(
            sa.table(
                "integrations",
                sa.column("id", sa.String),
                sa.column("name", sa.String),
                sa.column("space_id", sa.String),
                sa.column("kind", sa.String),
                sa.column("provider", sa.String),
                sa.column("config", JSONType),
                sa.column("created_by", sa.String),
                sa.column("created_at", UTCDateTime()),
                sa.column("updated_at", UTCDateTime()),
            ),
            [{**row, **stamp} for row in integrations],
        )
        op.bulk_insert(
            sa.table(
                "integration_attachments",
                sa.column("id", sa.String),
                sa.column("project_id", sa.String),
                sa.column("integration_id", sa.String),
                sa.column("provider", sa.String),
                sa.column("region", sa.String),
                sa.column("read", sa.Boolean),
                sa.column("write", sa.Boolean),
                sa.column("created_by", sa.String),
                sa.column("created_at", UTCDateTime()),
                sa.column("updated_at", UTCDateTime()),
            ),
            [{**row, **stamp} for row in attachments],
        )


def downgrade() -> None:
    op.drop_index("ix_integration_attachments_integration_id", "integration_attachments")
    op.drop_table("integration_attachments")
    op.drop_table("integrations")
    op.create_table(
        "integrations",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column(
            "project_id",
            sa.String(64),
            sa.ForeignKey("projects.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("provider", sa.String(300), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("config", JSONType, nullable=False),
        sa.Column("read", sa.Boolean, nullable=False),
        sa.Column("write", sa.Boolean, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("project_id", "provider", name="uq_integrations_provider"),
    )
