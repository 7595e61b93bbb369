"""Alembic environment: always driven from ``store.db.Database.migrate``.

The caller hands over a live (sync-wrapped async) connection, so one code path serves
SQLite and PostgreSQL and no second engine is created.
"""

from __future__ import annotations

from alembic import context

from store.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "run migrations through `intent` (store.db.Database.migrate), not the alembic CLI"
    )

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
