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
- everything else on both lists needs an admin too.

The sandbox integration is configured by intent itself and is not subject to this.
Pure: the server asks it before storing anything.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterator
from typing import Any

__all__ = [
    "ADMIN_ONLY_ATTRIBUTES",
    "MEMBER_VARIABLES",
    "RESERVED_VARIABLES",
    "admin_only_attributes",
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
