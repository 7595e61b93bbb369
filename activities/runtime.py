"""What activities share in one worker: database, Temporal client, provider pool, secrets.

Also the rules that bind a project to a provider process: which provider a resource
type implies, which version a project pins, and the provider configuration and
environment (integration + project environment variables) the process gets.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from temporalio import activity
from temporalio.client import Client

from providers import install_provider, trust
from providers.install import hash_cache_dir, installed_zip_sha256, lock_key
from providers.models import InstalledProvider, ProviderAddress
from providers.versions import Version, VersionConstraints
from settings import Settings
from store import environments, provider_locks
from store.db import Database
from store.models import Integration, Resource
from store.secrets import SecretBox
from workflows.assertions import KEY_PURPOSE, ActorAssertionError, ActorSigner, verify_actor

if TYPE_CHECKING:
    # Annotations only: rooms import this module, and the server imports the rooms
    # (typed activity references) without loading the plugin machinery.
    from providers.client import ProviderClient
    from providers.pool import ProviderPool

__all__ = [
    "SANDBOX_CREDENTIALS",
    "ProviderBinding",
    "ProviderRefused",
    "Runtime",
    "implied_provider",
    "sandbox_aws_config",
]

# moto accepts any credentials; these are clearly not real ones.
SANDBOX_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "sandbox", "AWS_SECRET_ACCESS_KEY": "sandbox"}


def implied_provider(resource_type: str) -> str:
    """Terraform's rule: ``aws_s3_bucket`` → ``hashicorp/aws``."""
    prefix = resource_type.split("_", 1)[0]
    return f"hashicorp/{prefix}"


def sandbox_aws_config(region: str) -> dict[str, Any]:
    """Provider config for the local moto server (path-style S3, no account lookups)."""
    return {
        "region": region,
        "s3_use_path_style": True,
        "skip_credentials_validation": True,
        "skip_requesting_account_id": True,
        "skip_metadata_api_check": "true",
        "skip_region_validation": True,
    }


class ProviderRefused(ValueError):
    """The provider is not allowed (or is blocked) on this server."""


@dataclass(frozen=True)
class ProviderBinding:
    """Everything needed to lease a configured provider process for one project."""

    installed: InstalledProvider
    config: dict[str, Any]
    env: dict[str, str]
    secret_env: frozenset[str]
    read: bool = True
    write: bool = True
    integration: str | None = None

    def require(self, access: str) -> None:
        """The project's integration must grant ``access`` ("read" or "write")."""
        if not getattr(self, access):
            raise ProviderRefused(
                f"the project's {self.installed.address.short} integration "
                f"({self.integration}) does not grant {access} access; change it on the "
                "project's Integrations tab"
            )


@dataclass
class Runtime:
    settings: Settings
    db: Database
    temporal: Client
    pool: ProviderPool
    box: SecretBox

    def not_started_by_intent(self, assertion: str, update: str) -> str | None:
        """Why a worker question (a lookup, an export, a discovery) was not started by
        the server, or None: its workflow must carry the server's signature for its id,
        or someone reaching Temporal's port could read with a project's credentials."""
        try:
            verify_actor(
                self.box.derived_keys(KEY_PURPOSE),
                assertion,
                workflow_id=activity.info().workflow_id or "",
                update=update,
                now=time.time(),
            )
        except ActorAssertionError as exc:
            return str(exc)
        return None

    @property
    def signer(self) -> ActorSigner:
        """Signs the requester for the lease renewals a change makes on its behalf."""
        return ActorSigner(self.box.derived_key(KEY_PURPOSE))

    async def install(self, source: str, constraint: str | None) -> InstalledProvider:
        """Install (or find) an allowed provider; a refused one raises ``ProviderRefused``."""
        address = ProviderAddress.parse(source)
        reason = trust.refusal(address, self.settings)
        if reason:
            raise ProviderRefused(reason)
        return await install_provider(address, constraint, self.settings)

    async def package_hashes(self, installed: InstalledProvider) -> list[str]:
        """The lock hashes of an installed package: ``h1:`` always, ``zh:`` when the zip
        it came from is known."""
        h1 = await asyncio.to_thread(
            trust.package_h1, installed.path.parent, hash_cache_dir(self.settings)
        )
        zip_sha = installed_zip_sha256(installed)
        return [h1, f"zh:{zip_sha}"] if zip_sha else [h1]

    async def install_for(
        self, project_id: str, source: str, constraint: str | None
    ) -> InstalledProvider:
        """Install a provider for a project, held to the project's provider lock.

        The first use records version and hashes; every later use must find the same
        package, so a binary swapped on disk (or served anew by a mirror) never runs
        for the project. Changing the lock is an admin's decision."""
        address = ProviderAddress.parse(source)
        key = lock_key(address)
        async with self.db.session() as session:
            lock = await provider_locks.get_lock(session, project_id, key)
        if lock is not None:
            if constraint and not VersionConstraints.parse(constraint).allows(
                Version.parse(lock.version)
            ):
                raise ProviderRefused(
                    f"this project's provider lock pins {key} {lock.version}, which does not "
                    f"match {constraint!r}; keep the locked version, or ask an admin to update "
                    "the lock (`intent providers lock PROJECT --update`)"
                )
            constraint = lock.version
        installed = await self.install(source, constraint)
        hashes = await self.package_hashes(installed)
        if lock is None:
            async with self.db.transaction() as session:
                await provider_locks.put_lock(
                    session,
                    project_id=project_id,
                    provider=key,
                    version=installed.version,
                    hashes=hashes,
                    recorded_by="first use",
                )
        elif hashes[0] not in lock.hashes:
            raise ProviderRefused(
                f"the provider binary {installed.path} does not match this project's provider "
                f"lock for {key} {lock.version} (it was locked as "
                f"{', '.join(h for h in lock.hashes if h.startswith('h1:'))}, it is now "
                f"{hashes[0]}); it changed on disk after it was locked, so it is not run. "
                "Restore the original package, or have an admin review and update the lock "
                "(`intent providers lock PROJECT --update`)"
            )
        return installed

    async def pinned_version(self, project_id: str, source: str) -> str | None:
        """The version the project's existing resources of this provider use."""
        short = ProviderAddress.parse(source).short
        async with self.db.session() as session:
            rows = (
                await session.scalars(
                    select(Resource.provider_version)
                    .where(Resource.project_id == project_id, Resource.provider == short)
                    .distinct()
                )
            ).all()
        # Versions, not strings: 5.100.0 is newer than 5.99.0.
        return str(max(rows, key=Version.parse)) if rows else None

    async def binding(
        self, project_id: str, source: str, constraint: str | None
    ) -> ProviderBinding:
        installed = await self.install_for(project_id, source, constraint)
        async with self.db.session() as session:
            env, secret = await environments.resolved_environment(session, self.box, project_id)
            integration = await environments.integration_for(
                session, project_id, installed.address.short
            )
        return self._bound(installed, env, secret, integration)

    def sandbox_binding(self, installed: InstalledProvider) -> ProviderBinding:
        """What a new project (sandbox integration, no variables) binds the AWS provider
        to: the worker starts that process ahead, so a first change finds it warm."""
        integration = environments.sandbox_integration("", self.settings.sandbox_region)
        return self._bound(installed, {}, set(), integration)

    def _bound(
        self,
        installed: InstalledProvider,
        env: dict[str, str],
        secret: set[str],
        integration: Integration | None,
    ) -> ProviderBinding:
        config = self._integration_config(integration, env)
        short = installed.address.short
        if not self.settings.provider_instance_metadata:
            # The host's instance role is not the project's: never fall back to it. The
            # provider's own switch beats the variable, so it is set too, whatever the
            # integration says.
            env["AWS_EC2_METADATA_DISABLED"] = "true"
            if short == "hashicorp/aws":
                config["skip_metadata_api_check"] = "true"
        return ProviderBinding(
            installed,
            config,
            env,
            frozenset(secret),
            read=integration.read if integration else True,
            write=integration.write if integration else True,
            integration=integration.name if integration else None,
        )

    def _integration_config(
        self, integration: Integration | None, env: dict[str, str]
    ) -> dict[str, Any]:
        if integration is None:
            return {}
        config = dict(integration.config)
        if integration.kind == "sandbox" and integration.provider == "hashicorp/aws":
            if not self.settings.sandbox:
                raise RuntimeError(
                    "this project uses the sandbox AWS integration but the sandbox is off "
                    "(INTENT_SANDBOX=false); attach a real AWS integration to the project"
                )
            region = str(config.get("region") or "us-east-1")
            config = {**sandbox_aws_config(region), **config}
            env.update(SANDBOX_CREDENTIALS)
            env["AWS_ENDPOINT_URL"] = self.settings.sandbox_endpoint
            env.setdefault("AWS_REGION", region)
        return config

    @asynccontextmanager
    async def client(self, binding: ProviderBinding) -> AsyncIterator[ProviderClient]:
        async with self.pool.client(binding.installed, binding.config, binding.env) as client:
            yield client
