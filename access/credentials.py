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
  proxies, other servers or trust, turn the host's instance credentials back on, choose
  which role or account the credentials become, or run programs
  (``ADMIN_ONLY_ATTRIBUTES``) need an admin, at any depth of the configuration; a member
  may not remove or change them once an admin set them either;
- everything else on both lists needs an admin too;
- in *resource* configurations, attributes that name a file (``LOCAL_FILE_ATTRIBUTES``)
  may hold a path on the worker host (absolute, home-relative or climbing out with
  ``..``) only when an admin asks: ``aws_s3_object.source = "/etc/…"`` would upload the
  worker's own files. Relative paths stay inside the provider's empty private home.
- variables whose names say they are credentials are always stored as secrets.
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
    "LOCAL_FILE_ATTRIBUTES",
    "MEMBER_VARIABLES",
    "RESERVED_VARIABLES",
    "SUPPLIED_BY_ROLES",
    "admin_only_attributes",
    "admin_only_settings",
    "has_own_credentials",
    "local_file_paths",
    "must_be_secret",
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
    # turns the worker host's instance credentials back on (aws)
    "skip_metadata_api_check",
    # which role or account the project's credentials become
    "assume_role*",
    "allowed_account_ids",
    "forbidden_account_ids",
    # which server the provider talks to (kubernetes, vault, consul, ...)
    "host",
    "*_host",
    "address",
    "*_address",
    # runs a program on the worker (kubernetes, helm: exec { command })
    "exec",
    "*command*",
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

# Resource attribute names (at any depth) that name a file the provider reads or writes.
LOCAL_FILE_ATTRIBUTES = (
    "source",
    "source_*",
    "*_source",
    "filename",
    "*_filename",
    "*_file",
    "*_dir",
    "*_path",
    "output_path",
)

# Words in a variable name that make it a credential: always stored sealed.
_SECRET_WORDS = ("SECRET", "PASSWORD", "TOKEN", "KEY", "CREDENTIAL")

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


def admin_only_settings(config: Any) -> dict[str, Any]:
    """The admin-only attributes of a configuration with their values, by path: what a
    member's edit must leave exactly as it is."""
    found: dict[str, Any] = {}
    for path in admin_only_attributes(config):
        found[path] = _at(config, path)
    return found


def _at(config: Any, path: str) -> Any:
    current = config
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", path):
        current = current[int(part[1:-1])] if part.startswith("[") else current[part]
    return current


def must_be_secret(name: str) -> bool:
    """Variables named like credentials are stored sealed whatever the caller asked."""
    return any(word in name.upper() for word in _SECRET_WORDS)


def local_file_paths(config: Any, prefix: str = "") -> list[str]:
    """Paths of resource attributes naming a file outside the provider's private home:
    absolute, home-relative (``~``) or climbing out (``..``)."""
    return sorted(set(_files(config, prefix)))


def _outside(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    text = value.strip()
    return text.startswith(("/", "~", "\\")) or ".." in text.replace("\\", "/").split("/")


def _files(value: Any, path: str) -> Iterator[str]:
    if isinstance(value, dict):
        for key, inner in value.items():
            here = f"{path}.{key}" if path else str(key)
            if _matches(str(key).lower(), LOCAL_FILE_ATTRIBUTES) and _outside(inner):
                yield here
            elif str(key).lower() not in _DATA_MAPS:
                yield from _files(inner, here)
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from _files(inner, f"{path}[{index}]")
