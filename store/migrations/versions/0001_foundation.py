"""Foundation: spaces, identities, tokens, projects, resources, history, lock mirror.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from store.types import JSONType, UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "spaces",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("parent_id", sa.String(64), sa.ForeignKey("spaces.id"), nullable=True),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "identities",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("roles", JSONType, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("disabled_at", UTCDateTime(), nullable=True),
    )
    op.create_table(
        "tokens",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column(
            "identity_id",
            sa.String(64),
            sa.ForeignKey("identities.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("last_used_at", UTCDateTime(), nullable=True),
        sa.Column("expires_at", UTCDateTime(), nullable=True),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
    )
    op.create_table(
        "projects",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("space_id", sa.String(64), sa.ForeignKey("spaces.id"), nullable=False),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("labels", JSONType, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("space_id", "name", name="uq_projects_space_name"),
    )
    op.create_table(
        "resources",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column(
            "project_id",
            sa.String(64),
            sa.ForeignKey("projects.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("resource_id", sa.String(200), nullable=False),
        sa.Column("resource_type", sa.String(200), nullable=False),
        sa.Column("provider", sa.String(300), nullable=False),
        sa.Column("provider_version", sa.String(64), nullable=False),
        sa.Column("config", JSONType, nullable=False),
        sa.Column("state", JSONType, nullable=True),
        sa.Column("private", sa.Text, nullable=True),
        sa.Column("schema_version", sa.Integer, nullable=False, server_default="0"),
        sa.Column("status", sa.String(20), nullable=False, server_default="active"),
        sa.Column("last_change_id", sa.String(120), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("project_id", "resource_id", name="uq_resources_project_resource"),
    )
    op.create_table(
        "resource_dependencies",
        sa.Column(
            "project_id",
            sa.String(64),
            sa.ForeignKey("projects.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("resource_id", sa.String(200), primary_key=True),
        sa.Column("depends_on", sa.String(200), primary_key=True),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "operations",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("project_id", sa.String(64), nullable=True),
        sa.Column("change_id", sa.String(120), nullable=True),
        sa.Column("operation_index", sa.Integer, nullable=True),
        sa.Column("subject", sa.String(40), nullable=False),
        sa.Column("resource_id", sa.String(200), nullable=True),
        sa.Column("resource_type", sa.String(200), nullable=True),
        sa.Column("operation", sa.String(40), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("actor_id", sa.String(64), nullable=False),
        sa.Column("actor_name", sa.String(200), nullable=False),
        sa.Column("via", sa.String(10), nullable=False),
        sa.Column("reasons", JSONType, nullable=False),
        sa.Column("before", JSONType, nullable=True),
        sa.Column("after", JSONType, nullable=True),
        sa.Column("details", JSONType, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
    )
    op.create_index("ix_operations_project_created", "operations", ["project_id", "created_at"])
    op.create_index("ix_operations_change", "operations", ["change_id"])
    op.create_table(
        "project_locks",
        sa.Column(
            "project_id",
            sa.String(64),
            sa.ForeignKey("projects.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("holder_id", sa.String(64), nullable=True),
        sa.Column("holder_name", sa.String(200), nullable=True),
        sa.Column("acquired_at", UTCDateTime(), nullable=True),
        sa.Column("renewed_at", UTCDateTime(), nullable=True),
        sa.Column("expires_at", UTCDateTime(), nullable=True),
        sa.Column("seq", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    spaces = sa.table(
        "spaces",
        sa.column("id", sa.String),
        sa.column("name", sa.String),
        sa.column("parent_id", sa.String),
        sa.column("description", sa.Text),
        sa.column("created_at", UTCDateTime()),
    )
    from datetime import UTC, datetime

    op.bulk_insert(
        spaces,
        [
            {
                "id": "root",
                "name": "root",
                "parent_id": None,
                "description": "The root space; every other space descends from it.",
                "created_at": datetime.now(UTC),
            }
        ],
    )


def downgrade() -> None:
    for table in (
        "project_locks",
        "operations",
        "resource_dependencies",
        "resources",
        "projects",
        "tokens",
        "identities",
        "spaces",
    ):
        op.drop_table(table)
