"""Migration 0010: per-project provider configurations become integrations in a space
with attachments; sealed credentials travel sealed. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import command

from store import integrations as store
from store.db import Database, _alembic_config
from store.models import Integration
from store.secrets import SecretBox, generate_key

PASSWORD = "integration-Password-5c2e"


async def test_project_integrations_become_attached_objects(database_url: str) -> None:
    box = SecretBox([generate_key()])
    db = Database(database_url)
    db.use_secrets(box, may_open=True)
    then = datetime(2026, 1, 1) if db.is_sqlite else datetime(2026, 1, 1, tzinfo=UTC)
    old = sa.table(
        "integrations",
        *(sa.column(c) for c in ("id", "project_id", "provider", "name", "kind")),
        *(sa.column(c) for c in ("read", "write", "created_at", "updated_at")),
        sa.column("config", sa.JSON),
    )
    try:
        async with db.engine.begin() as conn:
            await conn.run_sync(lambda sync: command.upgrade(_alembic_config(sync), "0009"))
            for pid, name, space in (("p1", "web", "root"), ("p2", "data", "root")):
                await conn.execute(
                    sa.text(
                        "INSERT INTO projects (id, name, space_id, description, labels, "
                        "created_at, updated_at) VALUES (:id, :name, :space, '', '[]', :t, :t)"
                    ),
                    {"id": pid, "name": name, "space": space, "t": then},
                )
            rows = [
                ("i1", "p1", "hashicorp/aws", "sandbox (local moto)", "sandbox", True, True,
                 {"region": "eu-west-1"}),
                ("i2", "p2", "hashicorp/aws", "sandbox (local moto)", "sandbox", True, False,
                 {"region": "us-east-1"}),
                ("i3", "p2", "hashicorp/random", "keys", "static", True, True,
                 box.seal_credentials({"region": "eu-west-2", "secret_key": PASSWORD})),
            ]  # fmt: skip
            for id_, pid, provider, name, kind, read, write, config in rows:
                await conn.execute(
                    old.insert().values(
                        id=id_,
                        project_id=pid,
                        provider=provider,
                        name=name,
                        kind=kind,
                        read=read,
                        write=write,
                        config=config,
                        created_at=then,
                        updated_at=then,
                    )
                )
        await db.migrate()

        async with db.engine.connect() as conn:
            raw = await conn.execute(sa.text("SELECT config FROM integrations"))
            stored = json.dumps([value for (value,) in raw])
        assert PASSWORD not in stored and "enc:v1:" in stored
        async with db.session() as session:
            made = {i.name: i for i in await store.list_integrations(session)}
            assert set(made) == {"sandbox", "data-random"}
            sandbox = made["sandbox"]
            assert sandbox.kind == "aws" and sandbox.config["sandbox"] is True
            assert sandbox.config["external_id"].startswith("intent-")
            assert sandbox.space_id == "root"
            static = made["data-random"]
            assert static.kind == "static" and static.provider == "hashicorp/random"
            assert static.config["config"] == {"region": "eu-west-2", "secret_key": PASSWORD}
            web = await store.attachments_of(session, "p1")
            data = await store.attachments_of(session, "p2")
            assert [(a.provider, i.name, a.region, a.read, a.write) for a, i in web] == [
                ("hashicorp/aws", "sandbox", "eu-west-1", True, True)
            ]
            assert [(a.provider, i.name, a.region, a.read, a.write) for a, i in data] == [
                ("hashicorp/aws", "sandbox", "us-east-1", True, False),
                ("hashicorp/random", "data-random", "eu-west-2", True, True),
            ]
            assert [p.name for p in await store.attachments_using(session, sandbox.id)] == [
                "data",
                "web",
            ]
        # A new project's sandbox is the migrated one, not a second.
        async with db.transaction() as session:
            again = await store.ensure_sandbox(session, "us-east-1")
        assert again.id == sandbox.id
        async with db.session() as session:
            assert len((await session.scalars(sa.select(Integration))).all()) == 2
    finally:
        await db.dispose()
