"""Where a provider may take credentials, trust and traffic from: the one rule.

Told to, a provider reads files, profiles and CA bundles on the worker host, talks to
other endpoints and proxies, or skips TLS checks. Any of these lets whoever sets it act
with credentials that are not the project's (the worker's own ``~/.aws``, an instance
role) or read and alter the project's traffic. So:

- variables that steer how the provider *process* runs, or speak for intent, are never
  accepted (``RESERVED_VARIABLES``);
- ordinary project members may set only the variables in ``MEMBER_VARIABLES``: plain
  credentials and regions that go nowhere but the cloud's own API;
- integration attributes whose names say they point at files, profiles, endpoints,
  proxies or trust (``ADMIN_ONLY_ATTRIBUTES``) need an admin, at any depth of the
  configuration;
- everything else on both lists needs an admin too;
- an integration whose kind supplies credentials (``aws``: IAM roles intent assumes per
  change, with an external id intent generates) is the only credential source of the
  provider it serves: the project's own variables that name credentials, profiles,
  credential endpoints, API endpoints or regions for that cloud (``SUPPLIED_BY_ROLES``)
  are not passed to it. Managing such an integration (its role ARNs and session
  length) needs ``intent-integration:manage``; its ``endpoint`` falls under the
  attribute rule above, so it needs an admin.

The sandbox integration is configured by intent itself and is not subject to this.
Pure: the server asks it before storing anything, the worker before starting a provider.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Iterator
from typing import Any

__all__ = [
    "ADMIN_ONLY_ATTRIBUTES",
    "MEMBER_VARIABLES",
    "RESERVED_VARIABLES",
    "SUPPLIED_BY_ROLES",
    "admin_only_attributes",
    "has_own_credentials",
    "superseded_variables",
    "variable_rule",
]

# Never set through a project: they change how the provider process runs, or are ours.
RESERVED_VARIABLES = (
    "LD_*",
    "PATH",
    "HOME",
    "TMPDIR",
    "PLUGIN_*",
    "TF_PLUGIN_*",
    "TF_REATTACH_PROVIDERS",
    "INTENT_*",
)

# What a project member (not an admin) may set: credentials and regions for the cloud's
# own API, nothing that names a file, an endpoint, a proxy or a log level.
MEMBER_VARIABLES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_MAX_ATTEMPTS",
    "AWS_RETRY_MODE",
    "ARM_CLIENT_ID",
    "ARM_CLIENT_SECRET",
    "ARM_TENANT_ID",
    "ARM_SUBSCRIPTION_ID",
    "GOOGLE_CREDENTIALS",
    "GOOGLE_PROJECT",
    "GOOGLE_REGION",
    "GOOGLE_ZONE",
    "CLOUDFLARE_API_TOKEN",
    "DIGITALOCEAN_TOKEN",
    "GITHUB_TOKEN",
    "GITHUB_OWNER",
)

# Integration attribute names (at any depth) that point a provider somewhere other than
# the cloud's API with the project's own credentials, or weaken its trust.
ADMIN_ONLY_ATTRIBUTES = (
    "profile",
    "*_file",
    "*_files",
    "*_path",
    "*_paths",
    "*_dir",
    "*endpoint*",
    "*proxy*",
    "*_url",
    "*ca_bundle*",
    "*ca_cert*",
    "*insecure*",
    "skip_*tls*",
)

# Per provider: the variables a role-based integration replaces (where the provider would
# otherwise take credentials, a region or its API's address from), and the ones that
# are credentials of their own (a project may still use them without an integration).
SUPPLIED_BY_ROLES: dict[str, tuple[str, ...]] = {
    "hashicorp/aws": (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_SHARED_CREDENTIALS_FILE",
        "AWS_CONFIG_FILE",
        "AWS_ROLE_ARN",
        "AWS_ROLE_SESSION_NAME",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_*",
        "AWS_EC2_METADATA_*",
        "AWS_ENDPOINT_URL*",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
    ),
}
_OWN_CREDENTIALS: dict[str, tuple[str, ...]] = {
    "hashicorp/aws": ("AWS_ACCESS_KEY_ID", "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE"),
}

# Maps of the user's own data (tag keys are not attribute names): not looked into.
_DATA_MAPS = frozenset({"tags", "tags_all", "labels"})

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,199}$")


def _matches(name: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


def variable_rule(name: str) -> str:
    """``"member"``, ``"admin"`` or ``"reserved"``: who may set variable ``name``.

    Raises ``ValueError`` for a name that is not a variable name at all."""
    if not _NAME.match(name):
        raise ValueError(f"{name[:80]!r} is not a valid variable name (letters, digits, _)")
    upper = name.upper()
    if _matches(upper, RESERVED_VARIABLES):
        return "reserved"
    if upper in MEMBER_VARIABLES and name == upper:
        return "member"
    return "admin"


def superseded_variables(provider: str, names: Iterable[str]) -> set[str]:
    """Which of a project's variable ``names`` a role-based integration for ``provider``
    replaces (they are not passed to the provider)."""
    patterns = SUPPLIED_BY_ROLES.get(provider, ())
    return {name for name in names if _matches(name.upper(), patterns)}


def has_own_credentials(provider: str, names: Iterable[str]) -> bool:
    """Whether a project's variables give ``provider`` credentials without an
    integration (the old way: keys in the project's environment)."""
    own = _OWN_CREDENTIALS.get(provider)
    return own is None or any(name.upper() in own for name in names)


def admin_only_attributes(config: Any, prefix: str = "") -> list[str]:
    """Paths of attributes in a provider configuration that only an admin may set."""
    return sorted(set(_walk(config, prefix)))


def _walk(value: Any, path: str) -> Iterator[str]:
    if isinstance(value, dict):
        for key, inner in value.items():
            here = f"{path}.{key}" if path else str(key)
            if _matches(str(key).lower(), ADMIN_ONLY_ATTRIBUTES) and inner not in (None, ""):
                yield here
            elif str(key).lower() not in _DATA_MAPS:
                yield from _walk(inner, here)
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from _walk(inner, f"{path}[{index}]")
