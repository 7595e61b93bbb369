"""Project environment variables (integrations: ``store.integrations``)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import EnvironmentVariable
from store.secrets import SecretBox

__all__ = [
    "delete_variable",
    "list_variables",
    "resolved_environment",
    "set_variable",
]


async def list_variables(session: AsyncSession, project_id: str) -> list[EnvironmentVariable]:
    return list(
        (
            await session.scalars(
                select(EnvironmentVariable)
                .where(EnvironmentVariable.project_id == project_id)
                .order_by(EnvironmentVariable.name)
            )
        ).all()
    )


async def set_variable(
    session: AsyncSession,
    box: SecretBox,
    project_id: str,
    name: str,
    value: str,
    *,
    secret: bool,
) -> EnvironmentVariable:
    row = await session.get(EnvironmentVariable, (project_id, name))
    stored = box.seal(value) if secret else value
    if row is None:
        row = EnvironmentVariable(project_id=project_id, name=name, value=stored, secret=secret)
        session.add(row)
    else:
        row.value = stored
        row.secret = secret
    await session.flush()
    return row


async def delete_variable(session: AsyncSession, project_id: str, name: str) -> bool:
    row = await session.get(EnvironmentVariable, (project_id, name))
    if row is None:
        return False
    await session.delete(row)
    return True


async def resolved_environment(
    session: AsyncSession, box: SecretBox, project_id: str
) -> tuple[dict[str, str], set[str]]:
    """Clear values for the provider process, and which names are secret (to mask)."""
    values: dict[str, str] = {}
    secret: set[str] = set()
    for row in await list_variables(session, project_id):
        values[row.name] = box.open(row.value) if row.secret else row.value
        if row.secret:
            secret.add(row.name)
    return values, secret
