"""Lifecycle: project TTL and archive, per-project drift schedule, drift marks on
resources, and the configuration versions a rollback returns resources to.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from store.types import JSONType, SealedJSON, UTCDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable columns added in place (no table copy on SQLite, which would trip the
    # foreign keys pointing at projects).
    op.add_column("projects", sa.Column("expires_at", UTCDateTime(), nullable=True))
    op.add_column("projects", sa.Column("ttl_set_by", sa.String(200), nullable=True))
    op.add_column("projects", sa.Column("archived_at", UTCDateTime(), nullable=True))
    op.add_column("projects", sa.Column("drift_interval_seconds", sa.Float(), nullable=True))
    op.add_column("resources", sa.Column("drift", JSONType, nullable=True))
    op.create_table(
        "resource_versions",
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
        sa.Column("change_id", sa.String(120), nullable=False),
        sa.Column("operation_index", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("config_before", SealedJSON(), nullable=True),
        sa.Column("config_after", SealedJSON(), nullable=True),
        sa.Column("depends_on", JSONType, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index(
        "ix_resource_versions_resource",
        "resource_versions",
        ["project_id", "resource_id", "created_at"],
    )
    op.create_index("ix_resource_versions_change", "resource_versions", ["change_id"])


def downgrade() -> None:
    op.drop_index("ix_resource_versions_change", "resource_versions")
    op.drop_index("ix_resource_versions_resource", "resource_versions")
    op.drop_table("resource_versions")
    with op.batch_alter_table("resources") as batch:
        batch.drop_column("drift")
    with op.batch_alter_table("projects") as batch:
        batch.drop_column("drift_interval_seconds")
        batch.drop_column("archived_at")
        batch.drop_column("ttl_set_by")
        batch.drop_column("expires_at")
