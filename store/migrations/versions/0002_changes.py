"""Resource views, changes, their apply journal, project environment variables and integrations.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from store.types import JSONType, UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _project_fk() -> sa.ForeignKey:
    return sa.ForeignKey("projects.id", ondelete="CASCADE")


def upgrade() -> None:
    with op.batch_alter_table("resources") as batch:
        batch.add_column(sa.Column("state_view", JSONType, nullable=True))
        batch.add_column(sa.Column("config_view", JSONType, nullable=True))
    op.create_table(
        "changes",
        sa.Column("id", sa.String(120), primary_key=True),
        sa.Column("project_id", sa.String(64), _project_fk(), nullable=False),
        sa.Column("actor_id", sa.String(64), nullable=False),
        sa.Column("actor_name", sa.String(200), nullable=False),
        sa.Column("via", sa.String(10), nullable=False),
        sa.Column("dry_run", sa.Boolean, nullable=False),
        sa.Column("status", sa.String(30), nullable=False),
        sa.Column("request", JSONType, nullable=False),
        sa.Column("summary", JSONType, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
    )
    op.create_index("ix_changes_project_created", "changes", ["project_id", "created_at"])
    op.create_table(
        "environment_variables",
        sa.Column("project_id", sa.String(64), _project_fk(), primary_key=True),
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("secret", sa.Boolean, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "integrations",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("project_id", sa.String(64), _project_fk(), nullable=False),
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
    op.create_table(
        "apply_journal",
        sa.Column("change_id", sa.String(120), primary_key=True),
        sa.Column("operation_index", sa.Integer, primary_key=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("result", JSONType, nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("apply_journal")
    op.drop_table("integrations")
    op.drop_table("environment_variables")
    op.drop_index("ix_changes_project_created", "changes")
    op.drop_table("changes")
    with op.batch_alter_table("resources") as batch:
        batch.drop_column("config_view")
        batch.drop_column("state_view")
