"""Access: custom roles, role bindings in spaces, unique space names.

The four global roles identities carried become bindings in the root space, and every
existing identity keeps what it could do before (change resources, under policy) as a
space-writer binding at the root.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from ulid import ULID

from store.types import JSONType, UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_LEGACY = {
    "admin": "space-admin",
    "policy-author": "policy-author",
    "reviewer": "reviewer",
    "operator": "operator",
}


def upgrade() -> None:
    op.create_table(
        "roles",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("actions", JSONType, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "role_bindings",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("role", sa.String(64), nullable=False),
        sa.Column(
            "space_id",
            sa.String(64),
            sa.ForeignKey("spaces.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("subject_kind", sa.String(10), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("role", "space_id", "subject_kind", "subject", name="uq_role_bindings"),
    )
    op.create_index("ix_role_bindings_subject", "role_bindings", ["subject_kind", "subject"])
    op.create_index("uq_spaces_name", "spaces", ["name"], unique=True)

    conn = op.get_bind()
    now = datetime.now(UTC)
    bindings = sa.table(
        "role_bindings",
        sa.column("id", sa.String),
        sa.column("role", sa.String),
        sa.column("space_id", sa.String),
        sa.column("subject_kind", sa.String),
        sa.column("subject", sa.String),
        sa.column("created_by", sa.String),
        sa.column("created_at", UTCDateTime()),
    )
    rows = []
    for identity_id, roles in conn.execute(sa.text("SELECT id, roles FROM identities")):
        # JSON text on SQLite, already decoded from JSONB on PostgreSQL.
        held = json.loads(roles) if isinstance(roles, str) else roles
        held = held if isinstance(held, list) else []
        names = {"space-writer"} | {_LEGACY[r] for r in held if r in _LEGACY}
        for role in sorted(names):
            rows.append(
                {
                    "id": str(ULID()),
                    "role": role,
                    "space_id": "root",
                    "subject_kind": "user",
                    "subject": identity_id,
                    "created_by": "migration",
                    "created_at": now,
                }
            )
    if rows:
        op.bulk_insert(bindings, rows)
    # Plain ALTER TABLE (no table copy, which trips SQLite's foreign keys).
    op.drop_column("identities", "roles")


def downgrade() -> None:
    op.add_column("identities", sa.Column("roles", JSONType, nullable=False, server_default="[]"))
    op.drop_index("uq_spaces_name", table_name="spaces")
    op.drop_index("ix_role_bindings_subject", table_name="role_bindings")
    op.drop_table("role_bindings")
    op.drop_table("roles")
