"""Tables of the durable product state.

Temporal holds changes in flight; everything a user can look at afterwards lives here.
Every row id is a ULID string, every time is UTC. The schema is created and evolved
only by the Alembic migrations in ``store/migrations`` — these classes describe it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from store.types import JSONType, UTCDateTime, new_id, utcnow

__all__ = [
    "ROOT_SPACE_ID",
    "Base",
    "Identity",
    "Operation",
    "Project",
    "ProjectLock",
    "Resource",
    "ResourceDependency",
    "Space",
    "Token",
]

ROOT_SPACE_ID = "root"


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSONType}


class Space(Base):
    """A node of the access-control tree; projects and policies live in one."""

    __tablename__ = "spaces"

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("spaces.id"), default=None)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Identity(Base):
    """Someone or something that acts: a person, or a machine holding a token."""

    __tablename__ = "identities"

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(20), default="human")
    email: Mapped[str | None] = mapped_column(String(320), default=None)
    roles: Mapped[list[str]] = mapped_column(JSONType, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column(default=None)


class Token(Base):
    """A bearer token; only its SHA-256 is stored, the clear value is shown once."""

    __tablename__ = "tokens"

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    identity_id: Mapped[str] = mapped_column(ForeignKey("identities.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The first characters let a user tell tokens apart without revealing them.
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class Project(Base):
    """The unit of work, state, policy and locking."""

    __tablename__ = "projects"
    __table_args__ = (UniqueConstraint("space_id", "name", name="uq_projects_space_name"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100))
    space_id: Mapped[str] = mapped_column(ForeignKey("spaces.id"), default=ROOT_SPACE_ID)
    description: Mapped[str] = mapped_column(Text, default="")
    labels: Mapped[list[str]] = mapped_column(JSONType, default=list)
    created_by: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Resource(Base):
    """A managed resource: what the user asked for (config) and what exists (state)."""

    __tablename__ = "resources"
    __table_args__ = (
        UniqueConstraint("project_id", "resource_id", name="uq_resources_project_resource"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    resource_id: Mapped[str] = mapped_column(String(200))
    resource_type: Mapped[str] = mapped_column(String(200))
    provider: Mapped[str] = mapped_column(String(300))
    provider_version: Mapped[str] = mapped_column(String(64))
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    state: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)
    # Opaque provider bytes (base64) that must round-trip to the next plan.
    private: Mapped[str | None] = mapped_column(Text, default=None)
    schema_version: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(20), default="active")
    last_change_id: Mapped[str | None] = mapped_column(String(120), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ResourceDependency(Base):
    """An edge: ``resource_id`` must exist before ``depends_on`` is gone."""

    __tablename__ = "resource_dependencies"

    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    resource_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    depends_on: Mapped[str] = mapped_column(String(200), primary_key=True)
    # "reference" edges come from ${...} in config, "explicit" ones from dependencies-add.
    source: Mapped[str] = mapped_column(String(20), default="explicit")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Operation(Base):
    """One history row: an attempt at something, with who, when, why and the outcome."""

    __tablename__ = "operations"
    __table_args__ = (
        Index("ix_operations_project_created", "project_id", "created_at"),
        Index("ix_operations_change", "change_id"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    project_id: Mapped[str | None] = mapped_column(String(64), default=None)
    change_id: Mapped[str | None] = mapped_column(String(120), default=None)
    operation_index: Mapped[int | None] = mapped_column(Integer, default=None)
    # What was acted on: "resource", "project", "lock", "policy", ...
    subject: Mapped[str] = mapped_column(String(40))
    resource_id: Mapped[str | None] = mapped_column(String(200), default=None)
    resource_type: Mapped[str | None] = mapped_column(String(200), default=None)
    # create / update / delete / import / refresh / acquire / release / ...
    operation: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[str] = mapped_column(String(64))
    actor_name: Mapped[str] = mapped_column(String(200))
    via: Mapped[str] = mapped_column(String(10))
    reasons: Mapped[list[str]] = mapped_column(JSONType, default=list)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)


class ProjectLock(Base):
    """The database mirror of a ``ProjectLockWorkflow`` lease, for the UI and listings.

    Temporal is the authority; ``seq`` orders mirror writes so a late write from an
    older lease state never overwrites a newer one.
    """

    __tablename__ = "project_locks"

    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    holder_id: Mapped[str | None] = mapped_column(String(64), default=None)
    holder_name: Mapped[str | None] = mapped_column(String(200), default=None)
    acquired_at: Mapped[datetime | None] = mapped_column(default=None)
    renewed_at: Mapped[datetime | None] = mapped_column(default=None)
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
