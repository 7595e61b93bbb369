"""Secrets at rest: sealed columns, the migration that seals old rows, key rotation.

Every test runs on SQLite and on a real PostgreSQL server.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from typer.testing import CliRunner

from cli import app
from store.db import Database, _alembic_config
from store.models import (
    Change,
    EnvironmentVariable,
    Integration,
    Project,
    Resource,
    ResourceVersion,
)
from store.sealing import census, reseal_all
from store.secrets import SecretBox, generate_key, write_key_file
from store.types import Sealed

SECRET = "sealed-Secret-4e1d"
PASSWORD = "integration-Password-77a0"


async def _raw(db: Database, table: str, column: str) -> list[Any]:
    async with db.engine.connect() as conn:
        kind = sa.Text if column in ("private", "value") else sa.JSON
        rows = await conn.execute(sa.select(sa.column(column, kind)).select_from(sa.table(table)))
        return [value for (value,) in rows]


async def _plant(db: Database) -> str:
    """A project with a resource (and its version), a change, an integration and a secret
    variable."""
    async with db.transaction() as session:
        project = Project(name="p", created_by="me")
        session.add(project)
        await session.flush()
        session.add(
            Resource(
                project_id=project.id,
                resource_id="db",
                resource_type="aws_ssm_parameter",
                provider="hashicorp/aws",
                provider_version="5.100.0",
                config={"name": "/db", "value": SECRET},
                state={"name": "/db", "value": SECRET},
                private="cHJpdmF0ZQ==",
            )
        )
        session.add(
            ResourceVersion(
                project_id=project.id,
                resource_id="db",
                resource_type="aws_ssm_parameter",
                provider="hashicorp/aws",
                provider_version="5.100.0",
                change_id="change-p-1",
                operation_index=0,
                action="update",
                config_before={"name": "/db", "value": SECRET},
                config_after={"name": "/db", "value": SECRET + "-2"},
            )
        )
        session.add(
            Change(
                id="change-p-1",
                project_id=project.id,
                actor_id="a",
                actor_name="alice",
                via="api",
                request=[
                    {"index": 0, "kind": "create", "resource_id": "db", "config": {"value": SECRET}}
                ],
            )
        )
        session.add(
            Integration(
                name="prod",
                kind="static",
                provider="hashicorp/aws",
                config={
                    "provider": "hashicorp/aws",
                    "config": {"region": "eu-west-1", "secret_key": PASSWORD},
                },
            )
        )
        return project.id


async def test_secret_columns_are_sealed_and_open_only_where_allowed(database_url: str) -> None:
    box = SecretBox([generate_key()])
    worker = Database(database_url)
    worker.use_secrets(box, may_open=True)
    await worker.migrate()
    server = Database(database_url)
    server.use_secrets(box, may_open=False)
    try:
        await _plant(worker)
        for table, column in (
            ("resources", "config"),
            ("resources", "state"),
            ("resources", "private"),
            ("resource_versions", "config_before"),
            ("resource_versions", "config_after"),
            ("changes", "request"),
            ("integrations", "config"),
        ):
            raw = json.dumps(await _raw(worker, table, column))
            assert SECRET not in raw and PASSWORD not in raw and "enc:v1:" in raw, table
        # The server's view: opaque placeholders; the region stays readable for listings.
        async with server.session() as session:
            resource = (await session.scalars(sa.select(Resource))).one()
            assert isinstance(resource.config, Sealed) and isinstance(resource.state, Sealed)
            change = (await session.scalars(sa.select(Change))).one()
            assert isinstance(change.request[0]["config"], Sealed)
            assert change.request[0]["resource_id"] == "db"
            integration = (await session.scalars(sa.select(Integration))).one()
            assert integration.config["config"]["region"] == "eu-west-1"
            assert integration.config["config"]["secret_key"].startswith("enc:v1:")
            # Written back untouched by the server, it still opens for the worker.
            integration.name = "renamed"
            session.add(integration)
            await session.commit()
        async with worker.session() as session:
            resource = (await session.scalars(sa.select(Resource))).one()
            assert resource.config["value"] == SECRET and resource.private == "cHJpdmF0ZQ=="
            integration = (await session.scalars(sa.select(Integration))).one()
            assert integration.config["config"] == {"region": "eu-west-1", "secret_key": PASSWORD}
        # A process with no key writes nothing in the clear: it cannot write at all.
        keyless = Database(database_url)
        try:
            with pytest.raises(sa.exc.StatementError, match="no secret key bound"):
                async with keyless.transaction() as session:
                    session.add(Integration(name="n", kind="static", provider="x/y"))
        finally:
            await keyless.dispose()
    finally:
        await server.dispose()
        await worker.dispose()


async def test_the_migration_seals_rows_stored_in_the_clear(database_url: str) -> None:
    box = SecretBox([generate_key()])
    db = Database(database_url)
    db.use_secrets(box, may_open=True)
    # Timestamps as each dialect stores them (naive text on SQLite).
    then = datetime(2026, 1, 1) if db.is_sqlite else datetime(2026, 1, 1, tzinfo=UTC)
    try:
        async with db.engine.begin() as conn:
            await conn.run_sync(lambda sync: command.upgrade(_alembic_config(sync), "0004"))
            # What an earlier version left behind.
            await conn.execute(
                sa.text(
                    "INSERT INTO projects (id, name, space_id, description, labels, created_at,"
                    " updated_at) VALUES ('p1', 'p', 'root', '', '[]', :t, :t)"
                ),
                {"t": then},
            )
            resources = sa.table(
                "resources",
                *(sa.column(c) for c in ("id", "project_id", "resource_id", "resource_type")),
                *(sa.column(c) for c in ("provider", "provider_version", "schema_version")),
                *(sa.column(c) for c in ("status", "created_at", "updated_at")),
                sa.column("config", sa.JSON),
                sa.column("state", sa.JSON),
                sa.column("private", sa.Text),
            )
            await conn.execute(
                resources.insert().values(
                    id="r1",
                    project_id="p1",
                    resource_id="db",
                    resource_type="aws_ssm_parameter",
                    provider="hashicorp/aws",
                    provider_version="5.100.0",
                    schema_version=0,
                    status="active",
                    created_at=then,
                    updated_at=then,
                    config={"value": SECRET},
                    state={"value": SECRET},
                    private="cHJpdmF0ZQ==",
                )
            )
            variables = sa.table(
                "environment_variables",
                *(sa.column(c) for c in ("project_id", "name", "value", "secret")),
                *(sa.column(c) for c in ("created_at", "updated_at")),
            )
            legacy = "fernet:" + _fernet(box, SECRET)
            await conn.execute(
                variables.insert().values(
                    project_id="p1",
                    name="TOKEN",
                    value=legacy,
                    secret=True,
                    created_at=then,
                    updated_at=then,
                )
            )
        await db.migrate()
        for column in ("config", "state", "private"):
            raw = json.dumps(await _raw(db, "resources", column))
            assert SECRET not in raw and "enc:v1:" in raw
        assert (await _raw(db, "environment_variables", "value"))[0].startswith("enc:v1:")
        async with db.session() as session:
            resource = (await session.scalars(sa.select(Resource))).one()
            assert resource.config == {"value": SECRET} and resource.private == "cHJpdmF0ZQ=="
            variable = (await session.scalars(sa.select(EnvironmentVariable))).one()
            assert box.open(variable.value) == SECRET
    finally:
        await db.dispose()


def _fernet(box: SecretBox, clear: str) -> str:
    """A value sealed the way earlier versions did (Fernet under the same key)."""
    import base64

    from cryptography.fernet import Fernet

    raw = box._keys[0].raw
    return Fernet(base64.urlsafe_b64encode(raw)).encrypt(clear.encode()).decode()


async def test_rotation_reseals_everything_with_the_new_key(database_url: str) -> None:
    old, new = generate_key(), generate_key()
    db = Database(database_url)
    db.use_secrets(SecretBox([old]), may_open=True)
    try:
        await db.migrate()
        await _plant(db)
        old_id, new_id = SecretBox([old]).primary_id, SecretBox([new]).primary_id
        assert set(await census(db)) == {old_id}
        rotated = SecretBox([new, old])  # the new key seals, the old one still opens
        assert await reseal_all(db, rotated) >= 3
        assert set(await census(db)) == {new_id}
        only_new = Database(database_url)
        only_new.use_secrets(SecretBox([new]), may_open=True)  # the old key is retired
        try:
            async with only_new.session() as session:
                resource = (await session.scalars(sa.select(Resource))).one()
                assert resource.state == {"name": "/db", "value": SECRET}
                change = (await session.scalars(sa.select(Change))).one()
                assert change.request[0]["config"] == {"value": SECRET}
                version = (await session.scalars(sa.select(ResourceVersion))).one()
                assert version.config_before == {"name": "/db", "value": SECRET}
        finally:
            await only_new.dispose()
    finally:
        await db.dispose()


def test_cli_rotation_with_a_key_file(tmp_path: Path) -> None:
    """add-key → rotate → rotate --retire, against a data dir's SQLite database."""
    import asyncio

    data = tmp_path / "data"
    key_file = tmp_path / "keys" / "intent.keys"  # outside the data dir
    key_file.parent.mkdir()
    write_key_file(key_file, [generate_key()])
    env = {"INTENT_DATA_DIR": str(data), "INTENT_SECRET_KEY_FILE": str(key_file)}
    first = SecretBox(key_file.read_text().split())
    db = Database(f"sqlite+aiosqlite:///{data / 'intent.db'}")
    db.use_secrets(first, may_open=True)

    async def plant() -> None:
        await db.migrate()
        await _plant(db)
        await db.dispose()

    asyncio.run(plant())
    runner = CliRunner()
    status = runner.invoke(app, ["secrets", "status"], env=env)
    assert status.exit_code == 0, status.output
    assert f"key {first.primary_id}  seals and opens" in status.output
    added = runner.invoke(app, ["secrets", "add-key"], env=env)
    assert added.exit_code == 0, added.output
    keys = key_file.read_text().split()
    assert len(keys) == 2 and keys[0] == first._keys[0].text
    rotated = runner.invoke(app, ["secrets", "rotate"], env=env)
    assert rotated.exit_code == 0, rotated.output
    new_id = SecretBox([keys[1]]).primary_id
    assert f"key {new_id}  seals and opens" in rotated.output
    assert f"key {first.primary_id}  opens            0 sealed values" in rotated.output
    retired = runner.invoke(app, ["secrets", "rotate", "--retire"], env=env)
    assert retired.exit_code == 0, retired.output
    assert f"retired {first.primary_id}" in retired.output
    assert key_file.read_text().split() == [keys[1]]
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
