"""Shared provider nouns: a provider's address, a platform and an installed provider binary."""

from __future__ import annotations

import platform as _platform
import re
import sys
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

__all__ = [
    "DEFAULT_REGISTRY_HOST",
    "PUBLIC_REGISTRY_HOSTS",
    "InstalledProvider",
    "Platform",
    "ProviderAddress",
    "same_origin",
]

DEFAULT_REGISTRY_HOST = "registry.opentofu.org"

# The OpenTofu registry republishes the Terraform registry's providers under the same
# namespace/type, so the two hostnames name one source: a package mirrored under either
# serves both, and both resolve through the configured registry (``registry_url``).
PUBLIC_REGISTRY_HOSTS = frozenset({"registry.opentofu.org", "registry.terraform.io"})


def same_origin(host_a: str, host_b: str) -> bool:
    """Whether two registry hostnames publish the same providers."""
    return host_a == host_b or (host_a in PUBLIC_REGISTRY_HOSTS and host_b in PUBLIC_REGISTRY_HOSTS)


# Address parts end up in filesystem paths (mirrors, the provider dir) and URLs, so they
# are held to the rules Terraform applies: letters, digits and inner dashes (underscores
# are tolerated in namespaces, which some registries allow). This also rules out "..".
_NAME_PART = re.compile(r"^[a-z0-9](?:[a-z0-9_-]*[a-z0-9])?$")
_HOSTNAME = re.compile(
    r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
    r"(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*(?::[0-9]{1,5})?$"
)


class ProviderAddress(BaseModel):
    """``[HOST/]NAMESPACE/TYPE`` as Terraform and OpenTofu spell provider sources."""

    model_config = ConfigDict(frozen=True)

    hostname: str = DEFAULT_REGISTRY_HOST
    namespace: str
    type: str

    @field_validator("hostname", mode="before")
    @classmethod
    def _check_hostname(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.strip().lower()
            if len(value) > 253 or not _HOSTNAME.match(value):
                raise ValueError(
                    f"provider hostname {value!r} is not a DNS name (optionally with :port), "
                    "for example registry.opentofu.org"
                )
        return value

    @field_validator("namespace", "type", mode="before")
    @classmethod
    def _check_part(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.strip().lower()
            if not _NAME_PART.match(value):
                raise ValueError(
                    f"provider namespace/type {value!r} may contain only letters, digits, "
                    "dashes and underscores, and must start and end with a letter or digit"
                )
        return value

    @classmethod
    def parse(cls, source: str) -> ProviderAddress:
        parts = source.strip().lower().split("/")
        try:
            if len(parts) == 2:
                return cls(namespace=parts[0], type=parts[1])
            if len(parts) == 3:
                return cls(hostname=parts[0], namespace=parts[1], type=parts[2])
        except ValidationError as exc:
            # Re-raise as a plain ValueError with the user's own spelling in front, so
            # callers that print ``str(exc)`` do not show a pydantic dump.
            reasons = "; ".join(
                str(err["msg"]).removeprefix("Value error, ") for err in exc.errors()
            )
            raise ValueError(f"provider source {source!r} is invalid: {reasons}") from None
        raise ValueError(
            f"provider source {source!r} is not NAMESPACE/TYPE or HOST/NAMESPACE/TYPE "
            "(for example hashicorp/aws)"
        )

    @property
    def short(self) -> str:
        """``namespace/type`` - how users and policies name a provider."""
        return f"{self.namespace}/{self.type}"

    def __str__(self) -> str:
        return f"{self.hostname}/{self.namespace}/{self.type}"


_GO_ARCH = {
    "x86_64": "amd64",
    "amd64": "amd64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "i386": "386",
    "i686": "386",
    "x86": "386",
    "armv7l": "arm",
    "armv6l": "arm",
}
_GO_OS = {"linux": "linux", "darwin": "darwin", "win32": "windows", "cygwin": "windows"}


class Platform(BaseModel):
    """An ``OS_ARCH`` pair in Go's spelling (``linux_amd64``), as registries and mirrors use."""

    model_config = ConfigDict(frozen=True)

    os: str
    arch: str

    @classmethod
    def parse(cls, text: str) -> Platform:
        os_name, sep, arch = text.strip().lower().partition("_")
        if not sep or not os_name or not arch or "_" in arch:
            raise ValueError(f"platform {text!r} is not OS_ARCH (for example linux_amd64)")
        return cls(os=os_name, arch=arch)

    @classmethod
    def current(cls) -> Platform:
        """The platform of this process, i.e. the binaries it can launch."""
        os_name = _GO_OS.get(sys.platform)
        if os_name is None:
            # freebsd13, openbsd7 … → the Go name without the release number.
            os_name = re.sub(r"[0-9]+$", "", sys.platform)
        machine = _platform.machine().lower()
        return cls(os=os_name, arch=_GO_ARCH.get(machine, machine))

    def __str__(self) -> str:
        return f"{self.os}_{self.arch}"


class InstalledProvider(BaseModel):
    """A provider binary on disk, ready to launch."""

    model_config = ConfigDict(frozen=True)

    address: ProviderAddress
    version: str
    path: Path
    sha256: str
    protocol_versions: tuple[int, ...] = (5, 6)
