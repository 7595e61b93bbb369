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

from access.credentials import has_own_credentials, superseded_variables
from integrations.aws import OnBehalf
from integrations.kinds import Access, IntegrationFacts, IntegrationInvalid, kind_of
from integrations.sessions import CredentialsUnavailable, SessionKey
from providers import install_provider, trust
from providers.install import hash_cache_dir, installed_zip_sha256, lock_key
from providers.models import InstalledProvider, ProviderAddress
from providers.versions import Version, VersionConstraints
from settings import Settings
from store import environments, provider_locks
from store import integrations as store_integrations
from store import projects as store_projects
from store.access import path_of
from store.db import Database
from store.models import Resource
from store.secrets import SecretBox
from workflows.assertions import (
    KEY_PURPOSE,
    ActorSigner,
    question,
    verify_actor,
)

if TYPE_CHECKING:
    # Annotations only: rooms import this module, and the server imports the rooms
    # (typed activity references) without loading the plugin machinery.
    from pydantic import BaseModel

    from integrations.endpoint import CredentialEndpoint
    from providers.client import ProviderClient
    from providers.pool import ProviderPool
    from workflows.actor import Actor

__all__ = [
    "CloudSession",
    "ProviderBinding",
    "ProviderRefused",
    "Runtime",
    "implied_provider",
]


def implied_provider(resource_type: str) -> str:
    """Terraform's rule: ``aws_s3_bucket`` → ``hashicorp/aws``."""
    prefix = resource_type.split("_", 1)[0]
    return f"hashicorp/{prefix}"


class ProviderRefused(ValueError):
    """The provider may not run for this project as asked (not allowed, not locked, no
    integration or credentials); the message names the fix."""


@dataclass(frozen=True)
class CloudSession:
    """The cloud session a binding's provider acts in (kinds that supply credentials):
    the worker assumes it right before a provider needs it."""

    integration: str
    config: dict[str, Any]
    region: str
    on_behalf: OnBehalf

    def key(self, access: Access, sandbox_endpoint: str | None) -> SessionKey:
        return SessionKey.of(
            self.integration,
            self.config,
            access,
            self.region,
            self.on_behalf,
            sandbox_endpoint=sandbox_endpoint,
        )


@dataclass(frozen=True)
class ProviderBinding:
    """Everything needed to lease a configured provider process for one project."""

    installed: InstalledProvider
    config: dict[str, Any]
    env: dict[str, str]
    secret_env: frozenset[str]
    facts: IntegrationFacts | None = None
    session: CloudSession | None = None

    @property
    def read(self) -> bool:
        return self.facts is None or self.facts.read

    @property
    def write(self) -> bool:
        return self.facts is None or self.facts.write

    def target(self) -> dict[str, Any]:
        """Where a provider of this binding acts: the provider, its configuration and
        environment, and the cloud session (integration, roles, region). A change's
        request digest covers it, so what was planned, policy-checked and confirmed in
        one account or region is never applied in another (an integration re-attached,
        a variable changed meanwhile)."""
        session = self.session
        return {
            "provider": str(self.installed.address),
            "version": self.installed.version,
            "config": self.config,
            "env": self.env,
            "session": None
            if session is None
            else {
                "integration": session.integration,
                "config": session.config,
                "region": session.region,
            },
        }

    def require(self, access: Access) -> None:
        """The project's integration must grant ``access``: checked before any provider
        process is leased, so a refused change never reaches the cloud."""
        facts = self.facts
        if facts is None or getattr(facts, access):
            return
        switch = "Write" if access == "write" else "Read"
        what = (
            "intent plans and reads through it but applies nothing"
            if access == "write"
            else "nothing in this project may plan, refresh, import or read through it"
        )
        raise ProviderRefused(
            f"the project's {facts.provider} integration {facts.name} has {switch} off: "
            f"{what}. Turn {switch} on (integration-attach {facts.name} with "
            f"{access}=true, the project's Integrations tab, or `intent integrations attach "
            f"PROJECT {facts.name} --{access}`"
            + ("; needs intent-integration:write" if access == "write" else "")
            + "), then retry the change (or ask for it again)"
        )


@dataclass
class Runtime:
    settings: Settings
    db: Database
    temporal: Client
    pool: ProviderPool
    box: SecretBox
    credentials: CredentialEndpoint

    def started_by(self, input: BaseModel, update: str) -> Actor:
        """Who a worker question (a lookup, an export, a discovery) was asked by, as the
        server's signature for its workflow id and this very input vouches;
        ``ActorAssertionError`` if the server did not ask it (someone reaching
        Temporal's port would otherwise read with a project's credentials)."""
        return verify_actor(
            self.box.derived_keys(KEY_PURPOSE),
            getattr(input, "assertion", ""),
            workflow_id=activity.info().workflow_id or "",
            update=question(update, input),
            now=time.time(),
        ).actor

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

    @property
    def sandbox_endpoint(self) -> str | None:
        return self.settings.sandbox_endpoint_if_on

    async def binding(
        self,
        project_id: str,
        source: str,
        constraint: str | None,
        *,
        actor: str,
        change_id: str | None = None,
    ) -> ProviderBinding:
        """The provider, configuration and environment a project's process gets, and the
        cloud session it acts in for ``actor`` (in change ``change_id``, if any)."""
        installed = await self.install_for(project_id, source, constraint)
        short = installed.address.short
        async with self.db.session() as session:
            env, secret = await environments.resolved_environment(session, self.box, project_id)
            found = await store_integrations.attachment_for(session, project_id, short)
            project = await store_projects.find_project(session, project_id)
            path = await path_of(session, project.space_id) if project else ()
        if project is None:
            raise ProviderRefused(f"project {project_id} no longer exists")
        if found is None:
            if not has_own_credentials(short, env):
                raise ProviderRefused(
                    f"project {project.name} has no {short} integration attached, so intent "
                    f"has no credentials for it: attach one (integration-list shows what "
                    f"the project may attach; integration-attach, the project's "
                    "Integrations tab, or `intent integrations attach`)"
                )
            return ProviderBinding(
                installed, self._confined(short, {}, env), env, frozenset(secret)
            )
        row = found[1]
        kind = kind_of(row.kind)
        facts = store_integrations.facts_of(found)
        try:
            setup = store_integrations.setup_of(found, self.sandbox_endpoint)
        except IntegrationInvalid as exc:
            raise ProviderRefused(str(exc)) from None
        cloud = None
        if kind.supplies_credentials:
            # The integration is the only credential source (access.credentials).
            for name in superseded_variables(short, env):
                del env[name]
                secret.discard(name)
            who = OnBehalf(
                actor=actor or "unknown",
                project=project.name,
                space=path[-1].name if path else "",
                change_id=change_id,
            )
            cloud = CloudSession(row.name, dict(row.config), facts.region or "us-east-1", who)
        env.update(setup.env)
        config = self._confined(short, setup.config, env)
        return ProviderBinding(installed, config, env, frozenset(secret), facts, cloud)

    def _confined(self, short: str, config: dict[str, Any], env: dict[str, str]) -> dict[str, Any]:
        """The host's instance role is not the project's: never fall back to it. The
        provider's own switch beats the variable, so it is set too, whatever the
        integration says."""
        if not self.settings.provider_instance_metadata:
            env["AWS_EC2_METADATA_DISABLED"] = "true"
            if short == "hashicorp/aws":
                config = {**config, "skip_metadata_api_check": "true"}
        return config

    @asynccontextmanager
    async def client(
        self, binding: ProviderBinding, access: Access
    ) -> AsyncIterator[ProviderClient]:
        """A configured provider process for ``binding``, allowed to ``access``: read for
        plans, refreshes, imports and data reads, write only for applying. Its cloud
        session is assumed first (a refusal is a clear error, before any provider runs)
        and its credentials reach only processes of that session."""
        binding.require(access)
        env, identity = binding.env, ""
        if binding.session is not None:
            key = binding.session.key(access, self.sandbox_endpoint)
            try:
                env = {**env, **await self.credentials.provide(key)}
            except CredentialsUnavailable as exc:
                raise ProviderRefused(str(exc)) from None
            identity = key.identity
        async with self.pool.client(binding.installed, binding.config, env, identity) as client:
            yield client
