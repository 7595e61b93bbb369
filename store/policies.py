"""Policy rows: attachment (explicit and by label) and the sample ring buffer."""

from __future__ import annotations

from collections.abc import Collection
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.access import path_of
from store.models import Policy, PolicyAttachment, PolicySample, Project
from store.types import utcnow

__all__ = [
    "AUTOATTACH_PREFIX",
    "SAMPLE_KEEP",
    "SAMPLE_MAX_AGE",
    "add_sample",
    "attached_policies",
    "autoattach_labels",
    "find_policy",
    "list_policies",
    "list_samples",
]

AUTOATTACH_PREFIX = "autoattach:"
SAMPLE_KEEP = 100
SAMPLE_MAX_AGE = timedelta(days=7)


def autoattach_labels(policy: Policy) -> set[str]:
    return {
        label[len(AUTOATTACH_PREFIX) :]
        for label in policy.labels
        if label.startswith(AUTOATTACH_PREFIX)
    }


async def find_policy(session: AsyncSession, ref: str) -> Policy | None:
    return await session.scalar(
        select(Policy)
        .where(or_(Policy.id == ref, Policy.name == ref))
        .order_by((Policy.id == ref).desc())
    )


async def list_policies(
    session: AsyncSession,
    *,
    limit: int = 50,
    after: str | None = None,
    space_ids: Collection[str] | None = None,
) -> list[Policy]:
    query = select(Policy).order_by(Policy.id).limit(limit)
    if after:
        query = query.where(Policy.id > after)
    if space_ids is not None:
        query = query.where(Policy.space_id.in_(list(space_ids)))
    return list((await session.scalars(query)).all())


async def attached_policies(session: AsyncSession, project: Project) -> list[tuple[Policy, str]]:
    """Policies that apply to ``project`` with how: "attached" or "autoattach:<label>".

    A policy governs only projects in its own space or below it, as a role does.
    """
    above = {space.id for space in await path_of(session, project.space_id)}
    explicit = set(
        (
            await session.scalars(
                select(PolicyAttachment.policy_id).where(PolicyAttachment.project_id == project.id)
            )
        ).all()
    )
    labels = set(project.labels)
    found: list[tuple[Policy, str]] = []
    policies = select(Policy).where(Policy.space_id.in_(above)).order_by(Policy.name)
    for policy in (await session.scalars(policies)).all():
        if policy.id in explicit:
            found.append((policy, "attached"))
            continue
        auto = autoattach_labels(policy)
        if "*" in auto:
            found.append((policy, "autoattach:*"))
        elif auto & labels:
            found.append((policy, f"autoattach:{sorted(auto & labels)[0]}"))
    return found


async def add_sample(
    session: AsyncSession,
    policy_id: str,
    *,
    input: dict[str, Any],
    result: dict[str, Any],
    project_id: str | None,
    change_id: str | None,
) -> None:
    """Keep a sample; trim the policy's buffer to the newest 100 within 7 days."""
    session.add(
        PolicySample(
            policy_id=policy_id,
            project_id=project_id,
            change_id=change_id,
            input=input,
            result=result,
        )
    )
    await session.flush()
    await session.execute(
        delete(PolicySample).where(
            PolicySample.policy_id == policy_id,
            PolicySample.created_at < utcnow() - SAMPLE_MAX_AGE,
        )
    )
    count = await session.scalar(
        select(func.count()).select_from(PolicySample).where(PolicySample.policy_id == policy_id)
    )
    if count and count > SAMPLE_KEEP:
        keep = (
            select(PolicySample.id)
            .where(PolicySample.policy_id == policy_id)
            .order_by(PolicySample.id.desc())
            .limit(SAMPLE_KEEP)
        )
        await session.execute(
            delete(PolicySample).where(
                PolicySample.policy_id == policy_id, PolicySample.id.not_in(keep.scalar_subquery())
            )
        )


async def list_samples(
    session: AsyncSession, policy_id: str, *, limit: int = 20
) -> list[PolicySample]:
    return list(
        (
            await session.scalars(
                select(PolicySample)
                .where(
                    PolicySample.policy_id == policy_id,
                    PolicySample.created_at >= utcnow() - SAMPLE_MAX_AGE,
                )
                .order_by(PolicySample.id.desc())
                .limit(limit)
            )
        ).all()
    )
