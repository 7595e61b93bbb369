"""Every sealed value in the database at once: a census by key, and re-sealing.

Used by ``intent secrets status`` and ``intent secrets rotate``: after the sealing key
changed, every sealed value is opened and sealed again with it, so the old key can be
retired. Runs in the process of the admin who asks (it needs the keys, as a worker has).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm.attributes import flag_modified

from store.db import Database
from store.models import Change, EnvironmentVariable, Integration, Resource, ResourceVersion
from store.secrets import SEALED_PREFIX, SecretBox, is_sealed

__all__ = ["census", "reseal_all"]

# Where sealed values live: (table, column, stored as JSON).
_PLACES: tuple[tuple[str, str, bool], ...] = (
    ("resources", "config", True),
    ("resources", "state", True),
    ("resources", "private", False),
    ("resource_versions", "config_before", True),
    ("resource_versions", "config_after", True),
    ("changes", "request", True),
    ("integrations", "config", True),
    ("environment_variables", "value", False),
)


def _key_of(token: str) -> str:
    if token.startswith(SEALED_PREFIX):
        return token[len(SEALED_PREFIX) :].split(":", 1)[0]
    return "legacy"


def _tokens(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value] if is_sealed(value) else []
    if isinstance(value, dict):
        return [t for v in value.values() for t in _tokens(v)]
    if isinstance(value, list):
        return [t for v in value for t in _tokens(v)]
    return []


async def census(db: Database) -> dict[str, int]:
    """How many sealed values each key id holds ("legacy": the older Fernet scheme)."""
    counts: Counter[str] = Counter()
    async with db.engine.connect() as conn:
        for table, column, _ in _PLACES:
            kind = sa.Text if column in ("private", "value") else sa.JSON
            rows = await conn.execute(
                sa.select(sa.column(column, kind)).select_from(sa.table(table))
            )
            for (value,) in rows:
                counts.update(_key_of(t) for t in _tokens(value))
    return dict(counts)


async def reseal_all(db: Database, box: SecretBox, *, batch: int = 200) -> int:
    """Seal every sealed value again with ``box``'s sealing key; returns how many rows
    were rewritten. ``db`` must be bound to ``box`` with ``may_open`` (store.db)."""
    db.use_secrets(box, may_open=True)
    rewritten = 0
    for model, columns in (
        (Resource, ("config", "state", "private")),
        (ResourceVersion, ("config_before", "config_after")),
        (Change, ("request",)),
        (Integration, ("config",)),
    ):
        offset = 0
        while True:
            async with db.transaction() as session:
                rows = (
                    await session.scalars(
                        sa.select(model).order_by(model.id).offset(offset).limit(batch)
                    )
                ).all()
                for row in rows:
                    # Read through the columns' types, the values are open; marked
                    # modified, they are written back sealed with the sealing key.
                    present = [c for c in columns if getattr(row, c) is not None]
                    for column in present:
                        flag_modified(row, column)
                    rewritten += bool(present)
            if len(rows) < batch:
                break
            offset += batch
    async with db.transaction() as session:
        secrets = (
            await session.scalars(
                sa.select(EnvironmentVariable).where(EnvironmentVariable.secret.is_(True))
            )
        ).all()
        for variable in secrets:
            if not box.sealed_with_primary(variable.value):
                variable.value = box.reseal(variable.value)
                rewritten += 1
    return rewritten
