"""The one settings object.

Every knob is an environment variable prefixed ``INTENT_`` (``INTENT_DATA_DIR``,
``INTENT_DATABASE_URL`` …). Defaults make ``intent up`` work on a laptop with nothing
else installed: SQLite and the Temporal dev server's SQLite file live in ``./.intent/``.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

__all__ = ["POOL_NAME", "Settings", "get_settings"]

# A worker pool's name: it becomes part of a task queue's name (intent-pool-NAME).
POOL_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")


def _split_paths(value: object) -> object:
    # Mirrors arrive as one env var; accept the OS path separator and commas.
    if isinstance(value, str):
        parts = value.replace(",", ":").split(":")
        return [p for p in (s.strip() for s in parts) if p]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="INTENT_", extra="ignore")

    # -- where things live ------------------------------------------------------------
    data_dir: Path = Path(".intent")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy async URL; default sqlite+aiosqlite in the data dir.",
    )

    instance_id: str = Field(
        default_factory=lambda: secrets.token_hex(8),
        description="Names this process on /healthz (set by `intent up` for its server).",
    )

    # -- HTTP server ------------------------------------------------------------------
    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str | None = Field(
        default=None, description="External base URL when behind a proxy (for links)."
    )
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Extra Host header values the MCP endpoint accepts (non-localhost names).",
    )

    # -- Temporal ---------------------------------------------------------------------
    temporal_address: str | None = Field(
        default=None, description="host:port of an existing cluster; when set no dev server"
    )
    temporal_namespace: str = "default"
    temporal_task_queue: str = "intent"
    temporal_port: int = 7233
    temporal_ui_port: int = 8233
    temporal_ui_url: str | None = None
    temporal_ui_operators: bool = Field(
        default=False,
        description="Accept retry/abandon typed into the Temporal UI without intent's "
        "signature, recorded as actor 'temporal-ui' (unverified). `intent up` turns it on "
        "for its loopback dev server; keep it off where others reach Temporal.",
    )

    # -- locks and changes ------------------------------------------------------------
    lock_lease_seconds: float = 300.0
    confirmation_timeout_seconds: float = 3600.0
    plan_reuse_seconds: float = Field(
        default=300.0,
        description="An apply reuses its plan (and the refresh it made) when the plan is "
        "at most this old and nothing it depends on changed; older plans are made again.",
    )
    mcp_wait_seconds: float = Field(
        default=240.0, description="How long an MCP tool follows a change before returning"
    )

    # -- providers --------------------------------------------------------------------
    registry_url: str = "https://registry.opentofu.org"
    registry_search_url: str | None = Field(
        default=None,
        description="Base URL of the registry search API (GET /registry/docs/search?q=…); "
        "default https://api.opentofu.org for the public registry, else registry_url.",
    )
    registry_timeout_seconds: float = 30.0
    provider_mirrors: Annotated[list[Path], NoDecode] = Field(default_factory=list)
    provider_dir: Path | None = Field(
        default=None, description="Where installed providers go; default DATA_DIR/providers"
    )
    allowed_providers: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: [
            "registry.opentofu.org/hashicorp/*",
            "registry.terraform.io/hashicorp/*",
        ],
        description="Provider source addresses (HOST/NAMESPACE/TYPE, * wildcards; a "
        "NAMESPACE/TYPE pattern means the public registries) intent may install and run: "
        "a provider is code running on the worker.",
    )
    blocked_providers: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: [
            "*/hashicorp/local",
            "*/hashicorp/external",
            "*/hashicorp/http",
            "*/hashicorp/archive",
            "*/hashicorp/template",
            "*/hashicorp/dns",
        ],
        description="Providers never run even when allowed: they act on the worker host "
        "itself (its files, commands, requests or DNS updates from inside its network).",
    )
    provider_trust_dirs: Annotated[list[Path], NoDecode] = Field(
        default_factory=list,
        description="Extra directories of pinned signing keys (NAMESPACE/*.asc) for registry "
        "packages; HashiCorp's key for hashicorp/* ships with intent.",
    )
    provider_instance_metadata: bool = Field(
        default=False,
        description="Let providers use the worker host's cloud instance credentials "
        "(IMDS). Off: a project only ever acts with its own credentials.",
    )
    schema_cache_dir: Path | None = Field(
        default=None,
        description="Where provider schemas are cached, by binary digest (content-"
        "addressed, so shared safely): default $XDG_CACHE_HOME/intent/schemas "
        "(~/.cache/intent/schemas), so a fresh data dir finds the schemas this machine "
        "already fetched.",
    )
    hash_cache_dir: Path | None = Field(
        default=None,
        description="Where provider binaries' SHA-256 digests are remembered, by path, "
        "size, mtime and inode, so a binary is hashed once per machine; default "
        "$XDG_CACHE_HOME/intent/sha256 (~/.cache/intent/sha256).",
    )
    provider_user: str = Field(
        default="nobody",
        description="When the worker runs as root, provider processes run as this "
        "unprivileged account: they can execute the installed providers but not read the "
        "database, the key or the logs.",
    )
    provider_allow_root: bool = Field(
        default=False,
        description="Let providers run as root when the worker is root and "
        "INTENT_PROVIDER_USER is empty. Never in production: a provider could then read "
        "and change everything on the host.",
    )
    provider_uid_range: str | None = Field(
        default=None,
        description="When the worker is root: give each provider process its own uid from "
        "this range (e.g. 2000000-2099999) instead of INTENT_PROVIDER_USER's, so provider "
        "processes of different projects cannot reach each other's files or sockets.",
    )
    provider_runtime_dir: Path | None = Field(
        default=None, description="Where provider sockets live; default a private temp dir"
    )
    provider_pool_size: int = 8
    provider_idle_seconds: float = 600.0
    provider_session_idle_seconds: float = Field(
        default=120.0,
        description="Idle processes of a cloud session (one change's) stop sooner: the "
        "next change gets its own.",
    )
    provider_concurrency: int = Field(
        default=10,
        description="Per provider process: operations planned or applied at once (a "
        "sliding window over the change's dependency order; terraform's -parallelism).",
    )
    worker_max_activities: int = 32
    worker_pool: str | None = Field(
        default=None,
        pattern=POOL_NAME.pattern,
        description="Serve only this worker pool's provider work (task queue "
        "intent-pool-NAME), e.g. inside the network that holds a project's credentials "
        "(`intent worker --pool NAME`).",
    )
    pool_wait_seconds: float = Field(
        default=900.0,
        description="How long a change's provider work waits for a worker of its "
        "project's pool before the change says no worker picked it up.",
    )

    # -- cloud integrations -------------------------------------------------------------
    aws_principal_arn: str | None = Field(
        default=None,
        description="The IAM principal intent's worker runs as (its own credentials come from "
        "the standard AWS chain of the worker host); shown in the trust policy each "
        "integration's roles need.",
    )
    aws_min_session_seconds: int = Field(
        default=900,
        ge=1,
        description="The shortest session an AWS integration may ask for (STS's own floor). "
        "Lower only for a test cloud such as moto, to rehearse credential renewal.",
    )
    aws_renew_before_seconds: int = Field(
        default=600,
        ge=330,
        description="Assumed-role credentials are renewed when a provider asks for them with "
        "less than this left; more than the 5 minutes before expiry at which the AWS SDKs "
        "ask again, so every such ask gets new ones.",
    )

    # -- failure drills -----------------------------------------------------------------
    fault_apply_pause_seconds: float = Field(
        default=0.0,
        description="Drill: pause this long after the provider applied and before the "
        "result is committed, to rehearse a worker dying at the worst moment. 0 in "
        "production.",
    )

    # -- policies ---------------------------------------------------------------------
    policy_timeout_seconds: float = 2.0

    # -- lifecycle: project TTL and drift ------------------------------------------------
    project_max_ttl: Annotated[dict[str, str], NoDecode] = Field(
        default_factory=lambda: {"*": "90d"},
        description="Longest TTL a project may carry, per space (space name or id → a "
        "duration like 30d, 12h); '*' for spaces not named. JSON, or space=duration pairs "
        "separated by commas.",
    )
    project_min_ttl_seconds: float = Field(
        default=60.0, description="Shortest TTL a project may be given."
    )
    ttl_grace_seconds: float = Field(
        default=3600.0,
        description="When a project expires while someone holds its lock, its cleanup "
        "waits for the lock to be released, at most this long.",
    )
    ttl_warning_seconds: Annotated[list[float], NoDecode] = Field(
        default_factory=lambda: [86400.0, 3600.0],
        description="How long before a project expires it warns (history, UI, tool results).",
    )
    drift_interval_seconds: float | None = Field(
        default=None,
        description="Default drift check interval for new projects; unset: no schedule "
        "(projects turn theirs on with project-update).",
    )
    drift_min_interval_seconds: float = Field(
        default=300.0, description="Shortest interval a project's drift schedule may have."
    )

    # -- sandbox cloud ----------------------------------------------------------------
    sandbox: bool = True
    sandbox_port: int = 4566
    sandbox_url: str | None = Field(
        default=None, description="AWS endpoint of the sandbox; default the local moto server"
    )
    sandbox_region: str = "us-east-1"

    # -- operating it -------------------------------------------------------------------
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="json: one object per line with request, change and trace ids.",
    )
    metrics_port: int | None = Field(
        default=None,
        description="The worker's Prometheus endpoint (SDK and intent metrics); off if unset.",
    )
    metrics_host: str = Field(default="127.0.0.1", description="Address it binds.")
    metrics_public: bool = Field(
        default=False,
        description="Serve the server's /metrics without a bearer token (a scraper on a "
        "private network).",
    )
    otlp_endpoint: str | None = Field(
        default=None,
        description="OTLP/gRPC collector for traces, e.g. http://127.0.0.1:4317; off if unset.",
    )

    # -- identity and sign-in ---------------------------------------------------------
    oauth_access_token_seconds: int = Field(
        default=900, description="Lifetime of OAuth access tokens (clients refresh them)."
    )
    oauth_refresh_token_days: float = Field(
        default=30.0, description="A refresh token unused this long expires (each use rotates it)."
    )
    oauth_code_seconds: int = Field(default=300, description="Lifetime of authorization codes.")
    oauth_dynamic_registration: bool = Field(
        default=True, description="Let MCP clients register themselves (RFC 7591)."
    )
    oauth_client_metadata_documents: bool = Field(
        default=True,
        description="Accept HTTPS client ids (client metadata documents). Turn off where the "
        "server cannot reach the internet: clients then register dynamically instead.",
    )
    oauth_allow_private_client_metadata: bool = Field(
        default=False,
        description="Development only: fetch client metadata documents from loopback and "
        "private addresses. Off, such a client id is refused (SSRF guard).",
    )
    session_hours: float = Field(default=12.0, description="Web sign-in lifetime.")
    login_max_failures: int = Field(
        default=5, description="Failed sign-ins per user name (x4 per address) before a pause."
    )
    login_failure_window_seconds: float = 900.0
    oidc_issuer: str | None = Field(
        default=None, description="Upstream OpenID Connect provider; enables 'sign in with'."
    )
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = None
    oidc_name: str = Field(default="single sign-on", description="Shown on the sign-in button.")
    oidc_scopes: str = "openid profile email"
    oidc_groups_claim: str = Field(
        default="groups", description="ID token claim listing the user's groups (role bindings)."
    )

    # -- secrets ----------------------------------------------------------------------
    secret_key: SecretStr | None = Field(
        default=None,
        description="Key(s) for secrets at rest, comma-separated, the sealing one first "
        "(`intent secrets generate`); default the key file.",
    )
    secret_key_file: Path | None = Field(
        default=None,
        description="File of keys for secrets at rest, one per line, the sealing one first; "
        "may live outside the data dir; default DATA_DIR/secret.key (created on first start).",
    )

    @field_validator("provider_mirrors", "provider_trust_dirs", mode="before")
    @classmethod
    def _mirrors(cls, value: object) -> object:
        return _split_paths(value)

    @field_validator("allowed_providers", "blocked_providers", mode="before")
    @classmethod
    def _patterns(cls, value: object) -> object:
        if isinstance(value, str) and not value.startswith("["):
            return [p.strip().lower() for p in value.split(",") if p.strip()]
        return value

    @field_validator("project_max_ttl", mode="before")
    @classmethod
    def _max_ttl(cls, value: object) -> object:
        if isinstance(value, str) and not value.lstrip().startswith("{"):
            pairs = (p.split("=", 1) for p in value.split(",") if "=" in p)
            return {k.strip(): v.strip() for k, v in pairs}
        if isinstance(value, str):
            return json.loads(value)
        return value

    @field_validator("ttl_warning_seconds", mode="before")
    @classmethod
    def _warnings(cls, value: object) -> object:
        if isinstance(value, str) and not value.startswith("["):
            return [float(v) for v in value.split(",") if v.strip()]
        return value

    @field_validator("allowed_hosts", mode="before")
    @classmethod
    def _hosts(cls, value: object) -> object:
        if isinstance(value, str) and not value.startswith("["):
            return [h.strip() for h in value.split(",") if h.strip()]
        return value

    # -- derived ----------------------------------------------------------------------
    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'intent.db').resolve()}"

    @property
    def resolved_provider_dir(self) -> Path:
        return (self.provider_dir or self.data_dir / "providers").resolve()

    @property
    def resolved_schema_dir(self) -> Path:
        """Provider schemas, cached on disk by binary digest, per machine."""
        if self.schema_cache_dir is not None:
            return self.schema_cache_dir.expanduser().resolve()
        return _machine_cache() / "schemas"

    @property
    def resolved_hash_cache_dir(self) -> Path:
        if self.hash_cache_dir is not None:
            return self.hash_cache_dir.expanduser().resolve()
        return _machine_cache() / "sha256"

    @property
    def temporal_target(self) -> str:
        return self.temporal_address or f"127.0.0.1:{self.temporal_port}"

    @property
    def sandbox_endpoint(self) -> str:
        return (self.sandbox_url or f"http://127.0.0.1:{self.sandbox_port}").rstrip("/")

    @property
    def sandbox_endpoint_if_on(self) -> str | None:
        """The sandbox's endpoint when this server runs one (a sandbox integration acts
        only then)."""
        return self.sandbox_endpoint if self.sandbox else None

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Process-wide settings; tests build their own ``Settings`` instead of using this."""
    return Settings()


def _machine_cache() -> Path:
    """This user's cache for what is the same for every data dir on the machine."""
    cache_home = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache_home).expanduser().resolve() / "intent"
