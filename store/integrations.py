"""Integrations (objects in a space) and their attachments to projects."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from integrations.aws import AWS_PROVIDER, sandbox_config
from integrations.kinds import (
    Attachment,
    IntegrationFacts,
    IntegrationInvalid,
    ProviderSetup,
    kind_of,
)
from store.models import ROOT_SPACE_ID, Integration, IntegrationAttachment, Project

__all__ = [
    "SANDBOX_NAME",
    "attachment_for",
    "attachments_of",
    "attachments_using",
    "detach_outside",
    "ensure_sandbox",
    "facts_of",
    "find_integration",
    "list_integrations",
    "setup_of",
    "shown_setup_of",
]

SANDBOX_NAME = "sandbox"

Attached = tuple[IntegrationAttachment, Integration]


def facts_of(found: Attached) -> IntegrationFacts:
    """What an attachment amounts to (its kind's view: account, region, read/write)."""
    attachment, row = found
    return kind_of(row.kind).facts(
        row.name, row.config, Attachment(attachment.region, attachment.read, attachment.write)
    )


def setup_of(found: Attached, sandbox_endpoint: str | None) -> ProviderSetup:
    """The provider configuration and environment an attachment gives a provider process
    (credentials aside); ``IntegrationInvalid`` when it cannot run here."""
    row = found[1]
    return kind_of(row.kind).provider_setup(
        row.config, facts_of(found).region, sandbox_endpoint=sandbox_endpoint
    )


def shown_setup_of(found: Attached, sandbox_endpoint: str | None) -> ProviderSetup:
    """``setup_of`` for those who only show it (policies, an export): an attachment that
    cannot run here still shows its region."""
    try:
        return setup_of(found, sandbox_endpoint)
    except IntegrationInvalid:
        region = facts_of(found).region
        return ProviderSetup({"region": region} if region else {})


async def find_integration(session: AsyncSession, ref: str) -> Integration | None:
    return await session.scalar(
        select(Integration)
        .where(or_(Integration.id == ref, Integration.name == ref))
        .order_by((Integration.id == ref).desc())
    )


async def list_integrations(
    session: AsyncSession, *, space_ids: Collection[str] | None = None
) -> list[Integration]:
    query = select(Integration).order_by(Integration.name)
    if space_ids is not None:
        query = query.where(Integration.space_id.in_(list(space_ids)))
    return list((await session.scalars(query)).all())


async def attachments_of(session: AsyncSession, project_id: str) -> list[Attached]:
    rows = await session.execute(
        select(IntegrationAttachment, Integration)
        .join(Integration, Integration.id == IntegrationAttachment.integration_id)
        .where(IntegrationAttachment.project_id == project_id)
        .order_by(IntegrationAttachment.provider)
    )
    return [(a, i) for a, i in rows.all()]


async def attachment_for(session: AsyncSession, project_id: str, provider: str) -> Attached | None:
    """The integration a project uses for ``provider`` (``namespace/type``), if any."""
    row = (
        await session.execute(
            select(IntegrationAttachment, Integration)
            .join(Integration, Integration.id == IntegrationAttachment.integration_id)
            .where(
                IntegrationAttachment.project_id == project_id,
                IntegrationAttachment.provider == provider,
            )
        )
    ).first()
    return None if row is None else (row[0], row[1])


async def attachments_using(session: AsyncSession, integration_id: str) -> list[Project]:
    """The projects an integration is attached to."""
    return list(
        (
            await session.scalars(
                select(Project)
                .join(IntegrationAttachment, IntegrationAttachment.project_id == Project.id)
                .where(IntegrationAttachment.integration_id == integration_id)
                .order_by(Project.name)
            )
        ).all()
    )


async def ensure_sandbox(session: AsyncSession, region: str) -> Integration:
    """The sandbox integration (root space; the local moto server), made on first use."""
    found = await session.scalar(select(Integration).where(Integration.name == SANDBOX_NAME))
    if found is not None and found.kind == "aws" and found.config.get("sandbox"):
        return found
    if found is not None:
        raise ValueError(
            f"an integration named {SANDBOX_NAME!r} exists that is not intent's sandbox; "
            "rename it so the sandbox can be attached"
        )
    made = Integration(
        name=SANDBOX_NAME,
        space_id=ROOT_SPACE_ID,
        kind="aws",
        provider=AWS_PROVIDER,
        config=sandbox_config(region),
        created_by="intent",
    )
    session.add(made)
    await session.flush()
    return made


async def detach_outside(
    session: AsyncSession, project_id: str, space_ids: Collection[str]
) -> list[str]:
    """Detach the project's integrations that live outside ``space_ids`` (its spaces
    after a move: an integration serves only its own space and below); their names."""
    gone = []
    for attachment, integration in await attachments_of(session, project_id):
        if integration.space_id not in space_ids:
            await session.delete(attachment)
            gone.append(integration.name)
    return gone
