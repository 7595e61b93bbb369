"""Identity: users with passwords, scoped API keys, the OAuth authorization server's
clients, codes and tokens, browser sessions and the authentication audit trail.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from store.types import JSONType, UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ALTER TABLE ... ADD COLUMN (no table copy): on SQLite, recreating a table
    # that others reference trips its foreign keys once rows exist.
    op.add_column("identities", sa.Column("password_hash", sa.Text, nullable=True))
    op.add_column("identities", sa.Column("subject", sa.String(400), nullable=True))
    op.add_column("identities", sa.Column("groups", JSONType, nullable=False, server_default="[]"))
    op.add_column("identities", sa.Column("last_login_at", UTCDateTime(), nullable=True))
    op.create_index("uq_identities_subject", "identities", ["subject"], unique=True)
    # Keys made before scopes existed could do everything their identity could.
    op.add_column(
        "tokens",
        sa.Column("scopes", JSONType, nullable=False, server_default='["mcp:read", "mcp:write"]'),
    )
    op.add_column("tokens", sa.Column("space_id", sa.String(64), nullable=True))
    op.add_column("tokens", sa.Column("created_by", sa.String(64), nullable=True))
    op.create_table(
        "password_links",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column(
            "identity_id",
            sa.String(64),
            sa.ForeignKey("identities.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("used_at", UTCDateTime(), nullable=True),
    )
    op.create_table(
        "oauth_clients",
        sa.Column("client_id", sa.String(2048), primary_key=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("client_name", sa.String(200), nullable=False),
        sa.Column("redirect_uris", JSONType, nullable=False),
        sa.Column("grant_types", JSONType, nullable=False),
        sa.Column("response_types", JSONType, nullable=False),
        sa.Column("token_endpoint_auth_method", sa.String(40), nullable=False),
        sa.Column("scope", sa.Text, nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=True),
        sa.Column("metadata", JSONType, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=True),
    )
    op.create_table(
        "oauth_codes",
        sa.Column("code_hash", sa.String(64), primary_key=True),
        sa.Column("client_id", sa.String(2048), nullable=False),
        sa.Column(
            "identity_id",
            sa.String(64),
            sa.ForeignKey("identities.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("redirect_uri", sa.Text, nullable=False),
        sa.Column("scopes", JSONType, nullable=False),
        sa.Column("audience", JSONType, nullable=False),
        sa.Column("code_challenge", sa.String(128), nullable=False),
        sa.Column("code_challenge_method", sa.String(10), nullable=False),
        sa.Column("family_id", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("used_at", UTCDateTime(), nullable=True),
    )
    op.create_table(
        "oauth_tokens",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("client_id", sa.String(2048), nullable=False),
        sa.Column(
            "identity_id",
            sa.String(64),
            sa.ForeignKey("identities.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("scopes", JSONType, nullable=False),
        sa.Column("audience", JSONType, nullable=False),
        sa.Column("family_id", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("rotated_at", UTCDateTime(), nullable=True),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
    )
    op.create_index("ix_oauth_tokens_family", "oauth_tokens", ["family_id"])
    op.create_table(
        "ui_sessions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column(
            "identity_id",
            sa.String(64),
            sa.ForeignKey("identities.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "key_id", sa.String(64), sa.ForeignKey("tokens.id", ondelete="CASCADE"), nullable=True
        ),
        sa.Column("method", sa.String(20), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
    )
    op.create_table(
        "auth_events",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("event", sa.String(40), nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("subject_id", sa.String(64), nullable=True),
        sa.Column("subject_name", sa.String(200), nullable=True),
        sa.Column("actor_id", sa.String(64), nullable=True),
        sa.Column("actor_name", sa.String(200), nullable=True),
        sa.Column("client_id", sa.String(2048), nullable=True),
        sa.Column("ip", sa.String(64), nullable=True),
        sa.Column("details", JSONType, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_auth_events_created", "auth_events", ["created_at"])
    op.create_index(
        "ix_auth_events_subject", "auth_events", ["event", "subject_name", "created_at"]
    )
    op.create_index("ix_auth_events_ip", "auth_events", ["event", "ip", "created_at"])


def downgrade() -> None:
    for table in (
        "auth_events",
        "ui_sessions",
        "oauth_tokens",
        "oauth_codes",
        "oauth_clients",
        "password_links",
    ):
        op.drop_table(table)
    for column in ("created_by", "space_id", "scopes"):
        op.drop_column("tokens", column)
    op.drop_index("uq_identities_subject", table_name="identities")
    for column in ("last_login_at", "groups", "subject", "password_hash"):
        op.drop_column("identities", column)
