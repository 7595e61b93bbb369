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
    "LOCAL_FILE_ATTRIBUTES",
    "MEMBER_VARIABLES",
    "RESERVED_VARIABLES",
    "admin_only_attributes",
    "admin_only_settings",
    "local_file_paths",
    "must_be_secret",
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
