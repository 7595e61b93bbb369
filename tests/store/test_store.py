"""The store on SQLite and on a real PostgreSQL server (every test runs on both)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from store import access as access_store
from store import db as db_module
from store import history, identities, locks, projects
from store.db import Database
from store.models import ROOT_SPACE_ID, ProjectLock, Space, Token
from workflows.actor import Actor


def _script_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(db_module.__file__).parent / "migrations"))
    return cfg


async def test_migrations_create_root_space_and_are_idempotent(database: Database) -> None:
    await database.migrate()  # a second run (another process starting) changes nothing
    async with database.session() as session:
        spaces = (await session.scalars(select(Space))).all()
        version = await session.scalar(text("SELECT version_num FROM alembic_version"))
    assert [s.id for s in spaces] == [ROOT_SPACE_ID]
    head = ScriptDirectory.from_config(_script_config()).get_current_head()
    assert version == head


async def test_project_names_are_unique_within_a_space(database: Database) -> None:
    async with database.transaction() as session:
        first = await projects.create_project(
            session, name="p1", created_by="me", labels=["b", "a"]
        )
    assert first.labels == ["a", "b"]
    assert len(first.id) == 26  # a ULID
    with pytest.raises(IntegrityError):
        async with database.transaction() as session:
            await projects.create_project(session, name="p1", created_by="me")
    async with database.session() as session:
        assert (await projects.find_project(session, "p1")).id == first.id  # type: ignore[union-attr]
        assert (await projects.find_project(session, first.id)).name == "p1"  # type: ignore[union-attr]
        assert await projects.find_project(session, "nope") is None


async def test_project_listing_paginates(database: Database) -> None:
    async with database.transaction() as session:
        for i in range(5):
            await projects.create_project(session, name=f"p{i}", created_by="me")
    seen: list[str] = []
    after = None
    async with database.session() as session:
        while True:
            page = await projects.list_projects(session, limit=2, after=after)
            if not page:
                break
            seen += [p.name for p, _ in page]
            after = page[-1][0].id
    assert sorted(seen) == [f"p{i}" for i in range(5)]
    assert len(seen) == 5


async def test_times_come_back_in_utc(database: Database) -> None:
    async with database.transaction() as session:
        project = await projects.create_project(session, name="t", created_by="me")
    async with database.session() as session:
        again = await projects.find_project(session, project.id)
    assert again is not None
    assert again.created_at.tzinfo is not None
    assert again.created_at.utcoffset() == timedelta(0)
    assert abs(again.created_at - datetime.now(UTC)) < timedelta(minutes=1)


async def test_tokens_store_only_a_hash_and_can_expire_or_be_revoked(database: Database) -> None:
    async with database.transaction() as session:
        alice = await identities.ensure_identity(session, "alice", roles=["space-admin"])
        clear = await identities.create_token(session, alice, "laptop")
        stale = await identities.create_token(
            session, alice, "old", expires_at=datetime.now(UTC) - timedelta(seconds=1)
        )
    async with database.session() as session:
        rows = (await session.scalars(select(Token))).all()
    assert all(clear not in (r.token_hash, r.prefix) for r in rows)
    assert all(
        r.token_hash == identities.hash_token(t) for r, t in zip(rows, (clear, stale), strict=True)
    )
    async with database.transaction() as session:
        who = await identities.resolve_token(session, clear)
        assert who is not None and who.name == "alice"
        bindings = await access_store.list_bindings(session, subject_kind="user", subject=who.id)
        assert [(b.role, b.space_id) for b in bindings] == [("space-admin", "root")]
        assert await identities.resolve_token(session, stale) is None
        assert await identities.resolve_token(session, clear + "x") is None
        token = (await session.scalars(select(Token).where(Token.name == "laptop"))).one()
        assert token.last_used_at is not None
        token.revoked_at = datetime.now(UTC)
    async with database.transaction() as session:
        assert await identities.resolve_token(session, clear) is None


async def test_history_rows_keep_actor_and_page_newest_first(database: Database) -> None:
    for i in range(3):
        async with database.transaction() as session:
            await history.record(
                session,
                subject="resource",
                operation="create",
                status="applied",
                actor=Actor(id="a1", name="alice", via="mcp"),
                project_id="p",
                resource_id=f"r{i}",
                after={"tags": {"n": i}},
            )
    async with database.session() as session:
        first = await history.list_history(session, project_id="p", limit=2)
        rest = await history.list_history(session, project_id="p", limit=2, before_id=first[-1].id)
    assert [r.resource_id for r in first] == ["r2", "r1"]
    assert [r.resource_id for r in rest] == ["r0"]
    assert {r.actor_name for r in first + rest} == {"alice"}
    assert first[0].after == {"tags": {"n": 2}}


async def test_lock_mirror_ignores_stale_writes(database: Database) -> None:
    async with database.transaction() as session:
        project = await projects.create_project(session, name="locked", created_by="me")
    now = datetime.now(UTC)
    common = {"acquired_at": now, "renewed_at": now, "expires_at": now + timedelta(minutes=5)}
    async with database.transaction() as session:
        assert await locks.mirror_lease(
            session, project_id=project.id, seq=10, holder_id="a", holder_name="alice", **common
        )
    async with database.transaction() as session:
        # An older write arriving late (a retried activity) must not resurrect a holder.
        assert not await locks.mirror_lease(
            session, project_id=project.id, seq=9, holder_id="b", holder_name="bob", **common
        )
    async with database.transaction() as session:
        assert await locks.mirror_lease(
            session,
            project_id=project.id,
            seq=11,
            holder_id=None,
            holder_name=None,
            acquired_at=None,
            renewed_at=None,
            expires_at=None,
        )
    async with database.session() as session:
        row = await session.get(ProjectLock, project.id)
    assert row is not None and row.holder_name is None and row.seq == 11


async def test_a_change_stage_is_written_once_and_never_after_a_later_one(
    database: Database,
) -> None:
    from activities.bookkeeping import write_stage
    from store import changes
    from workflows.models import ChangeStatus, HistoryRow, StageInput

    alice = Actor(id="a1", name="alice", via="api")
    async with database.transaction() as session:
        project = await projects.create_project(session, name="staged", created_by="a1")
        await changes.create_change(
            session, change_id="c1", project_id=project.id, actor=alice, dry_run=False, request=[]
        )

    def stage(seq: int, status: ChangeStatus, final: bool = False) -> StageInput:
        row = HistoryRow(index=0, resource_id="r", operation="create", status=status)
        return StageInput(
            change_id="c1",
            project_id=project.id,
            actor=alice,
            status=status,
            final=final,
            rows=[row],
            seq=seq,
        )

    written = []
    for attempt in (stage(10, "applying"), stage(10, "applying"), stage(11, "applied", True)):
        async with database.transaction() as session:  # a retried attempt writes again
            written.append(await write_stage(session, attempt))
    async with database.transaction() as session:  # a late write of an older stage
        written.append(await write_stage(session, stage(10, "applying")))
    assert written == [True, False, True, False]
    async with database.session() as session:
        change = await changes.get_change(session, "c1")
        rows = await history.list_history(session, project_id=project.id, limit=10)
    assert change is not None and change.status == "applied" and change.finished_at
    assert sorted(r.status for r in rows) == ["applied", "applying"]
