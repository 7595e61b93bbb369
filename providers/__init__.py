"""Provider plugins: installation (registry, mirrors) and the runtime that drives them.

See ``docs/providers.md`` for how callers plan, apply, import and read.

The parts that speak gRPC to a plugin (client, launcher, pool) load on first use: the
server imports this package for values, plans and installation, never to run a provider,
and must not pay for (or depend on) the plugin machinery.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# -- runtime: launch, schema, values, planning, operations, pool ------------------------
from providers.codec import (
    UNKNOWN,
    UNKNOWN_DISPLAY,
    UNKNOWN_WIRE,
    Typed,
    Unknown,
    contains_unknown,
    from_wire,
    to_user,
    to_wire,
)
from providers.ctytype import CtyType, parse_type
from providers.errors import (
    AttributePath,
    Diagnostic,
    ProviderApplyError,
    ProviderCrashedError,
    ProviderError,
    ProviderLaunchError,
    format_path,
)

# -- installation: registry, mirrors, versions (owned by the installation work) ---------
from providers.install import (
    LocalProvider,
    PackageVerificationError,
    ProviderConfigError,
    ProviderInstallError,
    ProviderNotFoundError,
    RegistryError,
    VersionConstraintError,
    install_provider,
    list_local_providers,
    parse_requirement,
)
from providers.models import (
    DEFAULT_REGISTRY_HOST,
    PUBLIC_REGISTRY_HOSTS,
    InstalledProvider,
    Platform,
    ProviderAddress,
    same_origin,
)
from providers.plan import SENSITIVE_DISPLAY, AttributeChange, ChangeAction, redact
from providers.registry import (
    DEFAULT_SEARCH_URL,
    PackageInfo,
    RegistryClient,
    RegistryVersion,
    SearchResult,
    SigningKey,
    protocol_majors,
)
from providers.results import (
    ApplyResult,
    DataSourceResult,
    ImportResult,
    PlannedChange,
    ReadResult,
    ResourceState,
)
from providers.schema import (
    AttributeDescription,
    BlockDescription,
    ProviderSchema,
    ResourceTypeDescription,
    Schema,
    SchemaCache,
    UnknownTypeError,
)
from providers.versions import Version, VersionConstraints, VersionError, newest_matching

if TYPE_CHECKING:
    from providers.client import TERRAFORM_VERSION, ProviderClient
    from providers.launcher import ProviderProcess, build_provider_env, launch_provider
    from providers.pool import ProviderPool

# Loaded on first use (see the module docstring).
_LAZY = {
    "TERRAFORM_VERSION": "providers.client",
    "ProviderClient": "providers.client",
    "ProviderProcess": "providers.launcher",
    "build_provider_env": "providers.launcher",
    "launch_provider": "providers.launcher",
    "ProviderPool": "providers.pool",
}


def __getattr__(name: str) -> Any:
    home = _LAZY.get(name)
    if home is None:
        raise AttributeError(f"module 'providers' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


# installation
__all__ = [
    "DEFAULT_REGISTRY_HOST",
    "DEFAULT_SEARCH_URL",
    "PUBLIC_REGISTRY_HOSTS",
    "InstalledProvider",
    "LocalProvider",
    "PackageInfo",
    "PackageVerificationError",
    "Platform",
    "ProviderAddress",
    "ProviderConfigError",
    "ProviderInstallError",
    "ProviderNotFoundError",
    "RegistryClient",
    "RegistryError",
    "RegistryVersion",
    "SearchResult",
    "SigningKey",
    "Version",
    "VersionConstraintError",
    "VersionConstraints",
    "VersionError",
    "install_provider",
    "list_local_providers",
    "newest_matching",
    "parse_requirement",
    "protocol_majors",
    "same_origin",
]

# runtime
__all__ += [
    "SENSITIVE_DISPLAY",
    "TERRAFORM_VERSION",
    "UNKNOWN",
    "UNKNOWN_DISPLAY",
    "UNKNOWN_WIRE",
    "ApplyResult",
    "AttributeChange",
    "AttributeDescription",
    "AttributePath",
    "BlockDescription",
    "ChangeAction",
    "CtyType",
    "DataSourceResult",
    "Diagnostic",
    "ImportResult",
    "PlannedChange",
    "ProviderApplyError",
    "ProviderClient",
    "ProviderCrashedError",
    "ProviderError",
    "ProviderLaunchError",
    "ProviderPool",
    "ProviderProcess",
    "ProviderSchema",
    "ReadResult",
    "ResourceState",
    "ResourceTypeDescription",
    "Schema",
    "SchemaCache",
    "Typed",
    "Unknown",
    "UnknownTypeError",
    "build_provider_env",
    "contains_unknown",
    "format_path",
    "from_wire",
    "launch_provider",
    "parse_type",
    "redact",
    "to_user",
    "to_wire",
]
