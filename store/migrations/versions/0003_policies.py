"""Policies, their attachments and kept samples.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from store.types import JSONType, UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "policies",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("space_id", sa.String(64), sa.ForeignKey("spaces.id"), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("rego_version", sa.String(4), nullable=False),
        sa.Column("labels", JSONType, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("space_id", "name", name="uq_policies_space_name"),
    )
    op.create_table(
        "policy_attachments",
        sa.Column(
            "policy_id",
            sa.String(64),
            sa.ForeignKey("policies.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "project_id",
            sa.String(64),
            sa.ForeignKey("projects.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("created_by", sa.String(64), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "policy_samples",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column(
            "policy_id",
            sa.String(64),
            sa.ForeignKey("policies.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("project_id", sa.String(64), nullable=True),
        sa.Column("change_id", sa.String(120), nullable=True),
        sa.Column("input", JSONType, nullable=False),
        sa.Column("result", JSONType, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index(
        "ix_policy_samples_policy_created", "policy_samples", ["policy_id", "created_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_policy_samples_policy_created", "policy_samples")
    op.drop_table("policy_samples")
    op.drop_table("policy_attachments")
    op.drop_table("policies")
