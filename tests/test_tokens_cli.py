"""``intent tokens create|list|revoke`` against a data directory's database."""

from __future__ import annotations

import asyncio
from pathlib import Path

from typer.testing import CliRunner

from cli import app
from settings import Settings
from store import identities
from store.db import Database


def test_create_list_and_revoke(tmp_path: Path) -> None:
    runner = CliRunner()
    data = str(tmp_path / "data")
    created = runner.invoke(
        app, ["tokens", "create", "--name", "ci", "--role", "operator", "--data-dir", data]
    )
    assert created.exit_code == 0, created.output
    token = created.output.strip()
    assert token.startswith("intent_") and len(token) > 40

    listed = runner.invoke(app, ["tokens", "list", "--data-dir", data])
    assert listed.exit_code == 0
    assert "ci" in listed.output and "scopes=mcp:read,mcp:write" in listed.output
    assert token not in listed.output  # only the prefix is ever shown
    assert token[:11] in listed.output

    db_url = Settings(data_dir=Path(data)).resolved_database_url

    async def resolves() -> bool:
        db = Database(db_url)
        try:
            async with db.transaction() as session:
                return await identities.resolve_token(session, token) is not None
        finally:
            await db.dispose()

    assert asyncio.run(resolves())
    revoked = runner.invoke(app, ["tokens", "revoke", token[:11], "--data-dir", data])
    assert revoked.exit_code == 0, revoked.output
    assert not asyncio.run(resolves())
    assert "revoked" in runner.invoke(app, ["tokens", "list", "--data-dir", data]).output
    missing = runner.invoke(app, ["tokens", "revoke", "intent_nope", "--data-dir", data])
    assert missing.exit_code == 1
    assert "no single API key" in missing.output

    limited = runner.invoke(
        app,
        [
            "tokens",
            "create",
            "--name",
            "ci",
            "--label",
            "nightly",
            "--read-only",
            "--expires-in-days",
            "7",
            "--data-dir",
            data,
        ],
    )
    assert limited.exit_code == 0, limited.output
    line = next(
        row
        for row in runner.invoke(app, ["tokens", "list", "--data-dir", data]).output.splitlines()
        if "nightly" in row
    )
    assert "scopes=mcp:read " in line and "expires " in line
