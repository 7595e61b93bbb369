"""The interface every integration kind implements, and the registry of kinds.

A kind knows four things about its configuration: how to check and complete what a
caller gave (``normalise``), what callers may see of it (``shown``), what policies and
listings learn from it (``facts``), and what a provider process gets from it apart
from credentials (``provider_setup``). Credentials themselves are the worker's business
(``integrations.sessions``), keyed by kind. Azure and GCP kinds follow the same shape.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "KINDS",
    "REGION_PATTERN",
    "Access",
    "Attachment",
    "IntegrationFacts",
    "IntegrationInvalid",
    "IntegrationKind",
    "KindRules",
    "ProviderSetup",
    "check_region",
    "kind_of",
    "region_conflict",
]

Access = Literal["read", "write"]

# AWS-style region names (us-east-1, eu-central-2, us-gov-west-1, cn-north-1, …); other
# clouds' kinds bring their own.
REGION_PATTERN = r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$"


class IntegrationInvalid(ValueError):
    """A configuration a kind refuses; the message names the field and the fix."""


@dataclass(frozen=True)
class KindRules:
    """What the server's settings say about configurations (not the caller's to choose)."""

    sandbox: bool = False
    min_session_seconds: int = 900
    # The cloud principal intent's worker runs as, shown in the trust policies roles need.
    worker_principal: str | None = None


@dataclass(frozen=True)
class Attachment:
    """How a project uses an integration: where, and whether it may read and write."""

    region: str | None
    read: bool
    write: bool


@dataclass(frozen=True)
class IntegrationFacts:
    """What policies, listings and error messages know about an attached integration."""

    name: str
    kind: str
    provider: str
    account_id: str | None
    region: str | None
    read: bool
    write: bool

    def policy_input(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "provider": self.provider,
            "account_id": self.account_id,
            "region": self.region,
            "read": self.read,
            "write": self.write,
        }


@dataclass(frozen=True)
class ProviderSetup:
    """What a provider process gets from an integration apart from credentials."""

    config: dict[str, Any] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)


class IntegrationKind(ABC):
    """One kind of integration (see the module docstring)."""

    name: str
    title: str
    # Whether the worker supplies the provider's credentials (then the project's own
    # credential variables for that cloud are not passed: access.credentials).
    supplies_credentials: bool = False

    @abstractmethod
    def provider(self, config: Mapping[str, Any]) -> str:
        """The provider (``namespace/type``) this configuration is for."""

    @abstractmethod
    def normalise(
        self, given: Mapping[str, Any], previous: Mapping[str, Any] | None, rules: KindRules
    ) -> dict[str, Any]:
        """The configuration to store: ``given`` checked (``IntegrationInvalid``) and
        completed (generated fields, defaults); ``previous`` on an update."""

    @abstractmethod
    def shown(self, config: Mapping[str, Any], rules: KindRules) -> dict[str, Any]:
        """What callers see of a stored configuration (never a credential)."""

    @abstractmethod
    def account(self, config: Mapping[str, Any]) -> str | None:
        """The cloud account the configuration reaches, when it says."""

    @abstractmethod
    def default_region(self, config: Mapping[str, Any]) -> str | None: ...

    @abstractmethod
    def provider_setup(
        self, config: Mapping[str, Any], region: str | None, *, sandbox_endpoint: str | None
    ) -> ProviderSetup:
        """Provider configuration and environment (no credentials) for a process."""

    def facts(
        self, name: str, config: Mapping[str, Any], attachment: Attachment
    ) -> IntegrationFacts:
        return IntegrationFacts(
            name=name,
            kind=self.name,
            provider=self.provider(config),
            account_id=self.account(config),
            region=attachment.region or self.default_region(config),
            read=attachment.read,
            write=attachment.write,
        )


def region_conflict(requested: str | None, facts: IntegrationFacts, project: str) -> str | None:
    """Why a change that names ``requested`` as its region may not run in the project,
    or None. A project acts in the region its integration is attached with: creating
    the resource in another one silently would surprise whoever asked."""
    if not requested or facts.region is None or requested == facts.region:
        return None
    return (
        f"this change asks for region {requested}, but project {project}'s "
        f"{facts.provider} integration {facts.name} is attached with region {facts.region}: "
        f"attach it with region {requested} (integration-attach, the project's "
        "Integrations tab or `intent integrations attach`), or ask for "
        f"{facts.region}"
    )


def check_region(value: Any, field_name: str = "region") -> str:
    """A region name, or ``IntegrationInvalid`` naming the field."""
    if not isinstance(value, str) or not re.match(REGION_PATTERN, value):
        raise IntegrationInvalid(
            f"{field_name} must be a region name such as us-east-1 or eu-west-1"
        )
    return value


def kind_of(name: str) -> IntegrationKind:
    kind = KINDS.get(name)
    if kind is None:
        raise IntegrationInvalid(
            f"there is no integration kind {name!r}; kinds: {', '.join(sorted(KINDS))}"
        )
    return kind


def _registry() -> dict[str, IntegrationKind]:
    # The kinds import this module for the interface; the registry imports them back.
    from integrations.aws import AwsKind
    from integrations.static import StaticKind

    return {kind.name: kind for kind in (AwsKind(), StaticKind())}


KINDS: dict[str, IntegrationKind] = _registry()
