"""The ``static`` kind: a provider configuration as given, for any provider.

Credentials come from the configuration itself (credential-looking values are sealed
at rest) or from the project's environment variables; attributes that point a provider
at files, endpoints or proxies need an admin (``access.credentials``). For AWS the
``aws`` kind, which never hands a provider long-lived keys, is the better choice.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from integrations.kinds import (
    IntegrationInvalid,
    IntegrationKind,
    KindRules,
    ProviderSetup,
    check_region,
)
from store.secrets import mask_credentials

__all__ = ["StaticKind"]

_PROVIDER = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}/[a-z0-9][a-z0-9-]{0,63}$")


class StaticKind(IntegrationKind):
    name = "static"
    title = "Provider configuration (credentials in it or in the project's environment)"

    def provider(self, config: Mapping[str, Any]) -> str:
        return str(config["provider"])

    def normalise(
        self, given: Mapping[str, Any], previous: Mapping[str, Any] | None, rules: KindRules
    ) -> dict[str, Any]:
        unknown = sorted(set(given) - {"provider", "config"})
        if unknown:
            raise IntegrationInvalid(
                f"a static integration has no {', '.join(unknown)}; it takes provider "
                "(e.g. hashicorp/aws) and config (the provider's configuration)"
            )
        merged = {"config": {}, **(previous or {}), **given}
        provider = merged.get("provider")
        if not isinstance(provider, str) or not _PROVIDER.match(provider):
            raise IntegrationInvalid(
                "a static integration needs provider, the provider's namespace/type "
                "such as hashicorp/aws"
            )
        if previous is not None and provider != previous.get("provider"):
            raise IntegrationInvalid(
                "an integration's provider cannot change; create another integration"
            )
        config = merged["config"]
        if not isinstance(config, dict):
            raise IntegrationInvalid("config must be an object: the provider's configuration")
        if config.get("region") is not None:
            check_region(config["region"], "config.region")
        return {"provider": provider, "config": config}

    def shown(self, config: Mapping[str, Any], rules: KindRules) -> dict[str, Any]:
        return {
            "provider": config.get("provider"),
            "config": mask_credentials(config.get("config")),
        }

    def account(self, config: Mapping[str, Any]) -> str | None:
        return None

    def default_region(self, config: Mapping[str, Any]) -> str | None:
        region = (config.get("config") or {}).get("region")
        return str(region) if region else None

    def provider_setup(
        self, config: Mapping[str, Any], region: str | None, *, sandbox_endpoint: str | None
    ) -> ProviderSetup:
        provider = dict(config.get("config") or {})
        if region:
            provider["region"] = region
        return ProviderSetup(provider, {})
