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

from store.types import (
    CredentialsJSON,
    JSONType,
    SealedJSON,
    SealedRequest,
    SealedText,
    UTCDateTime,
    new_id,
    utcnow,
)

__all__ = [
    "ROOT_SPACE_ID",
    "ApplyJournal",
    "AuthEvent",
    "Base",
    "Change",
    "EnvironmentVariable",
    "Identity",
    "Integration",
    "OAuthClient",
    "OAuthCode",
    "OAuthToken",
    "Operation",
    "PasswordLink",
    "Policy",
    "PolicyAttachment",
    "PolicySample",
    "Project",
    "ProjectLock",
    "ProviderLock",
    "Resource",
    "ResourceDependency",
    "ResourceVersion",
    "Role",
    "RoleBinding",
    "Space",
    "Token",
    "UiSession",
]

ROOT_SPACE_ID = "root"


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSONType}


class Space(Base):
    """A node of the access-control tree; projects and policies live in one."""

    __tablename__ = "spaces"

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("spaces.id"), default=None)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Identity(Base):
    """Someone or something that acts: a user (local or upstream), or a machine.

    A local user signs in with a password (stored as an argon2 hash); a user from the
    upstream OpenID Connect provider is known by ``subject`` (issuer and ``sub``) and
    brings ``groups`` from its claims at every sign-in.
    """

    __tablename__ = "identities"

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(20), default="human")
    email: Mapped[str | None] = mapped_column(String(320), default=None)
    password_hash: Mapped[str | None] = mapped_column(Text, default=None)
    subject: Mapped[str | None] = mapped_column(String(400), unique=True, default=None)
    groups: Mapped[list[str]] = mapped_column(JSONType, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(default=None)
    disabled_at: Mapped[datetime | None] = mapped_column(default=None)


class Token(Base):
    """An API key: a bearer token for scripts and CI, scoped and optionally expiring.

    Only its SHA-256 is stored; the clear value is shown once. ``scopes`` bound what it
    may do (``mcp:read``, ``mcp:write``) and ``space_id``, when set, the spaces it reaches.
    """

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
    scopes: Mapped[list[str]] = mapped_column(JSONType, default=list)
    # The space the key is limited to (and the spaces below it), if any.
    space_id: Mapped[str | None] = mapped_column(String(64), default=None)
    created_by: Mapped[str | None] = mapped_column(String(64), default=None)


class Role(Base):
    """A custom role: a named set of actions (the built-in roles live in ``access.roles``)."""

    __tablename__ = "roles"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    description: Mapped[str] = mapped_column(Text, default="")
    actions: Mapped[list[str]] = mapped_column(JSONType, default=list)
    created_by: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class RoleBinding(Base):
    """Who holds a role in a space (and every space below it): a user, a group (from the
    upstream identity provider or set by an admin) or an API key."""

    __tablename__ = "role_bindings"
    __table_args__ = (
        UniqueConstraint("role", "space_id", "subject_kind", "subject", name="uq_role_bindings"),
        Index("ix_role_bindings_subject", "subject_kind", "subject"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    role: Mapped[str] = mapped_column(String(64))
    space_id: Mapped[str] = mapped_column(ForeignKey("spaces.id", ondelete="CASCADE"))
    subject_kind: Mapped[str] = mapped_column(String(10))  # user / group / key
    # An identity id, a group name or an API key id.
    subject: Mapped[str] = mapped_column(String(200))
    created_by: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PasswordLink(Base):
    """A one-time link that lets a user set their password (first admin, new users)."""

    __tablename__ = "password_links"

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    identity_id: Mapped[str] = mapped_column(ForeignKey("identities.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column(default=None)


class OAuthClient(Base):
    """An OAuth client: registered dynamically (RFC 7591), or a cached client metadata
    document fetched from the HTTPS URL that is its ``client_id``."""

    __tablename__ = "oauth_clients"

    client_id: Mapped[str] = mapped_column(String(2048), primary_key=True)
    # "registered" (RFC 7591) or "metadata_document" (the client id is an HTTPS URL).
    kind: Mapped[str] = mapped_column(String(20))
    client_name: Mapped[str] = mapped_column(String(200), default="")
    redirect_uris: Mapped[list[str]] = mapped_column(JSONType, default=list)
    grant_types: Mapped[list[str]] = mapped_column(JSONType, default=list)
    response_types: Mapped[list[str]] = mapped_column(JSONType, default=list)
    token_endpoint_auth_method: Mapped[str] = mapped_column(String(40), default="none")
    scope: Mapped[str] = mapped_column(Text, default="")
    # SHA-256 of the client secret of a confidential client; the clear value is shown once.
    secret_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    metadata_json: Mapped[dict[str, Any]] = mapped_column("metadata", JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # For metadata documents: when the cached copy must be fetched again.
    expires_at: Mapped[datetime | None] = mapped_column(default=None)


class OAuthCode(Base):
    """An authorization code (only its hash): short-lived, single use, PKCE-bound."""

    __tablename__ = "oauth_codes"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(2048))
    identity_id: Mapped[str] = mapped_column(ForeignKey("identities.id", ondelete="CASCADE"))
    redirect_uri: Mapped[str] = mapped_column(Text)
    scopes: Mapped[list[str]] = mapped_column(JSONType, default=list)
    # RFC 8707: the resources the tokens may be used at.
    audience: Mapped[list[str]] = mapped_column(JSONType, default=list)
    code_challenge: Mapped[str] = mapped_column(String(128))
    code_challenge_method: Mapped[str] = mapped_column(String(10))
    # Tokens issued for this code share it; replaying the code revokes them.
    family_id: Mapped[str] = mapped_column(String(64), default=new_id)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column(default=None)


class OAuthToken(Base):
    """An access or refresh token issued by the authorization server (only its hash).

    Every token of one sign-in shares ``family_id``: presenting a refresh token that was
    already rotated revokes the whole family.
    """

    __tablename__ = "oauth_tokens"
    __table_args__ = (Index("ix_oauth_tokens_family", "family_id"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(10))  # access / refresh
    client_id: Mapped[str] = mapped_column(String(2048))
    identity_id: Mapped[str] = mapped_column(ForeignKey("identities.id", ondelete="CASCADE"))
    scopes: Mapped[list[str]] = mapped_column(JSONType, default=list)
    audience: Mapped[list[str]] = mapped_column(JSONType, default=list)
    family_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    rotated_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class UiSession(Base):
    """A signed-in browser (only the hash of its cookie). A session opened with an API
    key acts with that key's limits."""

    __tablename__ = "ui_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    identity_id: Mapped[str] = mapped_column(ForeignKey("identities.id", ondelete="CASCADE"))
    key_id: Mapped[str | None] = mapped_column(
        ForeignKey("tokens.id", ondelete="CASCADE"), default=None
    )
    method: Mapped[str] = mapped_column(String(20))  # password / oidc / key
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class AuthEvent(Base):
    """The authentication audit trail: sign-ins (and failures), consents, tokens issued,
    refreshed and revoked, keys created, roles bound. Admins read it."""

    __tablename__ = "auth_events"
    __table_args__ = (
        Index("ix_auth_events_created", "created_at"),
        Index("ix_auth_events_subject", "event", "subject_name", "created_at"),
        Index("ix_auth_events_ip", "event", "ip", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    event: Mapped[str] = mapped_column(String(40))
    outcome: Mapped[str] = mapped_column(String(20))  # succeeded / failed / refused
    # Whom the event is about (the user signing in, the key's identity, ...).
    subject_id: Mapped[str | None] = mapped_column(String(64), default=None)
    subject_name: Mapped[str | None] = mapped_column(String(200), default=None)
    # Who did it, when that is someone else (an admin binding a role).
    actor_id: Mapped[str | None] = mapped_column(String(64), default=None)
    actor_name: Mapped[str | None] = mapped_column(String(200), default=None)
    client_id: Mapped[str | None] = mapped_column(String(2048), default=None)
    ip: Mapped[str | None] = mapped_column(String(64), default=None)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Project(Base):
    """The unit of work, state, policy and locking."""

    __tablename__ = "projects"
    __table_args__ = (UniqueConstraint("space_id", "name", name="uq_projects_space_name"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100))
    space_id: Mapped[str] = mapped_column(ForeignKey("spaces.id"), default=ROOT_SPACE_ID)
    description: Mapped[str] = mapped_column(Text, default="")
    labels: Mapped[list[str]] = mapped_column(JSONType, default=list)
    # The worker pool its provider work runs on (task queue intent-pool-<pool>), e.g. a
    # worker inside the network that holds its cloud credentials; None: the default.
    pool: Mapped[str | None] = mapped_column(String(64), default=None)
    created_by: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # Project TTL: at ``expires_at`` its resources are deleted (under its policies) and the
    # project is archived (history kept). ``ttl_set_by`` names who set or last extended it.
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    ttl_set_by: Mapped[str | None] = mapped_column(String(200), default=None)
    archived_at: Mapped[datetime | None] = mapped_column(default=None)
    # Seconds between scheduled drift checks (a Temporal Schedule); None: off.
    drift_interval_seconds: Mapped[float | None] = mapped_column(default=None)


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
    # Config, state and private bytes may hold secrets: sealed at rest (store.types).
    config: Mapped[dict[str, Any]] = mapped_column(SealedJSON, default=dict)
    state: Mapped[dict[str, Any] | None] = mapped_column(SealedJSON, default=None)
    # Opaque provider bytes (base64) that must round-trip to the next plan.
    private: Mapped[str | None] = mapped_column(SealedText, default=None)
    # What users may see, redacted by the worker with the provider schema: the server
    # shows these without ever loading a provider.
    state_view: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)
    config_view: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)
    schema_version: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(20), default="active")
    last_change_id: Mapped[str | None] = mapped_column(String(120), default=None)
    # What the last refresh found changed outside intent (redacted), or that the object
    # is gone: {detected_at, change_id, changes: [...], deleted}. Cleared by an apply.
    drift: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ResourceVersion(Base):
    """One applied operation's configuration before and after: what a rollback returns a
    resource to. Configs may hold secrets: sealed at rest."""

    __tablename__ = "resource_versions"
    __table_args__ = (
        Index("ix_resource_versions_resource", "project_id", "resource_id", "created_at"),
        Index("ix_resource_versions_change", "change_id"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    resource_id: Mapped[str] = mapped_column(String(200))
    resource_type: Mapped[str] = mapped_column(String(200))
    provider: Mapped[str] = mapped_column(String(300))
    provider_version: Mapped[str] = mapped_column(String(64))
    change_id: Mapped[str] = mapped_column(String(120))
    operation_index: Mapped[int] = mapped_column(Integer)
    # create / update / replace / delete / import / refresh / no-op
    action: Mapped[str] = mapped_column(String(20))
    config_before: Mapped[dict[str, Any] | None] = mapped_column(SealedJSON, default=None)
    config_after: Mapped[dict[str, Any] | None] = mapped_column(SealedJSON, default=None)
    # The declared (explicit) dependencies it had before, to re-create it faithfully.
    depends_on: Mapped[list[str]] = mapped_column(JSONType, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


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


class ProviderLock(Base):
    """Which provider package a project runs, by hash (Terraform's lock file, per project).

    Recorded when the project first uses a provider; every later launch must find the
    same bytes. Changing it is an admin action (``intent providers lock --update``).
    """

    __tablename__ = "provider_locks"

    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    # The full source address, HOST/NAMESPACE/TYPE.
    provider: Mapped[str] = mapped_column(String(300), primary_key=True)
    version: Mapped[str] = mapped_column(String(64))
    # ["h1:…", "zh:…"]: any one matching the package on disk is enough.
    hashes: Mapped[list[str]] = mapped_column(JSONType, default=list)
    recorded_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Change(Base):
    """One prompt-driven change: the request as asked, and where it got to.

    The workflow carries only ids and summaries; the configs (which may hold secret
    values) stay here so they never appear in Temporal's history or UI.
    """

    __tablename__ = "changes"
    __table_args__ = (Index("ix_changes_project_created", "project_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(120), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    actor_id: Mapped[str] = mapped_column(String(64))
    actor_name: Mapped[str] = mapped_column(String(200))
    via: Mapped[str] = mapped_column(String(10))
    dry_run: Mapped[bool] = mapped_column(default=False)
    # The workflow execution chain (its first run id) that runs this change, claimed by
    # its first activity: no other execution, started by hand on Temporal's port, acts
    # for this row.
    run_chain: Mapped[str | None] = mapped_column(String(64), default=None)
    status: Mapped[str] = mapped_column(String(30), default="planning")
    # [{index, kind, resource_id, resource_type, provider, version, config|patch, import_id,
    # patches}]; each operation's config and retry patches are sealed at rest.
    request: Mapped[list[dict[str, Any]]] = mapped_column(SealedRequest, default=list)
    # Redacted per-operation outcome for listings (diff summary, verdicts, errors).
    summary: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)


class EnvironmentVariable(Base):
    """A project environment variable handed to that project's provider processes.

    Secret values are encrypted at rest and write-only: no API returns them.
    """

    __tablename__ = "environment_variables"

    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    secret: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Integration(Base):
    """A cloud integration: an object in a space, attached to projects.

    ``kind`` says how a provider gets credentials from ``config`` (``integrations``
    package): "aws" assumes IAM roles per change (the sandbox is one, pointing at the
    local moto server); "static" is a provider configuration whose credentials come from
    it or from the project's environment. It may be attached to projects in its space
    or below (like a policy governs them).
    """

    __tablename__ = "integrations"

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    space_id: Mapped[str] = mapped_column(ForeignKey("spaces.id"), default=ROOT_SPACE_ID)
    kind: Mapped[str] = mapped_column(String(20))
    provider: Mapped[str] = mapped_column(String(300))
    # Credential-looking values are sealed at rest, one by one.
    config: Mapped[dict[str, Any]] = mapped_column(CredentialsJSON, default=dict)
    created_by: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class IntegrationAttachment(Base):
    """A project's use of an integration: the region it acts in and whether it may read
    (plan, refresh, import, data reads) and write (apply). One per provider."""

    __tablename__ = "integration_attachments"
    __table_args__ = (
        UniqueConstraint("project_id", "provider", name="uq_integration_attachments_provider"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    integration_id: Mapped[str] = mapped_column(ForeignKey("integrations.id"), index=True)
    provider: Mapped[str] = mapped_column(String(300))
    region: Mapped[str | None] = mapped_column(String(64), default=None)
    read: Mapped[bool] = mapped_column(default=True)
    write: Mapped[bool] = mapped_column(default=False)
    created_by: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ApplyJournal(Base):
    """One row per applied operation attempt: makes apply idempotent per
    (change id, operation index) and tells a retried attempt that an earlier one may
    have reached the provider before its worker died."""

    __tablename__ = "apply_journal"

    change_id: Mapped[str] = mapped_column(String(120), primary_key=True)
    operation_index: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(20))  # started / applied / failed
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    result: Mapped[dict[str, Any]] = mapped_column(default=dict)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)


class Policy(Base):
    """An Intent policy (Rego, ``package spacelift``) evaluated on every operation.

    Labels ``autoattach:<label>`` attach it to every project carrying ``<label>``
    (``autoattach:*``: to all projects) without an explicit attachment.
    """

    __tablename__ = "policies"
    __table_args__ = (UniqueConstraint("space_id", "name", name="uq_policies_space_name"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    space_id: Mapped[str] = mapped_column(ForeignKey("spaces.id"), default=ROOT_SPACE_ID)
    description: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text)
    rego_version: Mapped[str] = mapped_column(String(4), default="v1")
    labels: Mapped[list[str]] = mapped_column(JSONType, default=list)
    created_by: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class PolicyAttachment(Base):
    __tablename__ = "policy_attachments"

    policy_id: Mapped[str] = mapped_column(
        ForeignKey("policies.id", ondelete="CASCADE"), primary_key=True
    )
    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    created_by: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PolicySample(Base):
    """A kept evaluation (the policy set ``sample``): redacted input and the result."""

    __tablename__ = "policy_samples"
    __table_args__ = (Index("ix_policy_samples_policy_created", "policy_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    policy_id: Mapped[str] = mapped_column(ForeignKey("policies.id", ondelete="CASCADE"))
    project_id: Mapped[str | None] = mapped_column(String(64), default=None)
    change_id: Mapped[str | None] = mapped_column(String(120), default=None)
    input: Mapped[dict[str, Any]] = mapped_column(default=dict)
    result: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
