"""Upgrading a database with identities from before spaces and roles: the global roles
become bindings in the root space and everyone keeps what they could do."""

from __future__ import annotations

import uuid
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from store.db import Database, _alembic_config
from tests.support.postgres import PostgresServer


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'intent.db'}"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.create_database(f"t_{uuid.uuid4().hex[:12]}")


async def test_global_roles_become_root_bindings(url: str) -> None:
    db = Database(url)
    then = datetime(2026, 1, 1) if db.is_sqlite else datetime.fromisoformat("2026-01-01T00:00Z")
    try:
        async with db.engine.begin() as conn:
            await conn.run_sync(lambda sync: command.upgrade(_alembic_config(sync), "0005"))
            for ident, name, roles in (("i1", "ana", '["admin"]'), ("i2", "ci", '["operator"]')):
                await conn.execute(
                    sa.text(
                        "INSERT INTO identities (id, name, kind, roles, created_at) "
                        "VALUES (:i, :n, 'human', :r, :t)"
                    ),
                    {"i": ident, "n": name, "r": roles, "t": then},
                )
            # Rows that point at identities and spaces: the upgrade must not copy the
            # tables they reference (SQLite's foreign keys would refuse).
            await conn.execute(
                sa.text(
                    "INSERT INTO tokens (id, identity_id, name, token_hash, prefix, created_at) "
                    "VALUES ('k1', 'i2', 'ci', 'h', 'intent_ab', :t)"
                ),
                {"t": then},
            )
            await conn.execute(
                sa.text(
                    "INSERT INTO projects (id, name, space_id, description, labels, created_at,"
                    " updated_at) VALUES ('p1', 'p', 'root', '', '[]', :t, :t)"
                ),
                {"t": then},
            )
        await db.migrate()
        async with db.engine.connect() as conn:
            rows = await conn.execute(
                sa.text("SELECT subject, role, space_id FROM role_bindings ORDER BY subject, role")
            )
            bindings = [tuple(r) for r in rows]
            scopes: object = (await conn.execute(sa.text("SELECT scopes FROM tokens"))).scalar_one()
        assert bindings == [
            ("i1", "space-admin", "root"),
            ("i1", "space-writer", "root"),
            ("i2", "operator", "root"),
            ("i2", "space-writer", "root"),
        ]
        assert "mcp:write" in str(scopes)
    finally:
        await db.dispose()
