"""Errors raised while finding, downloading and installing provider packages.

Every message is meant to be shown to a user as-is: it names what was being done (the
provider, the URL, the file) and what to do about it.
"""

from __future__ import annotations

__all__ = [
    "PackageVerificationError",
    "ProviderConfigError",
    "ProviderInstallError",
    "ProviderNotAllowedError",
    "ProviderNotFoundError",
    "RegistryError",
]


class ProviderInstallError(Exception):
    """Base class: a provider could not be resolved or installed."""


class ProviderNotAllowedError(ProviderInstallError):
    """The address is not allowed (or is blocked) on this server; nothing was fetched."""


class ProviderNotFoundError(ProviderInstallError):
    """No source (installed, mirror, registry) has a version that fits the request."""


class RegistryError(ProviderInstallError):
    """The registry could not be reached or answered something unusable."""

    def __init__(self, message: str, *, url: str | None = None, status: int | None = None):
        super().__init__(message)
        self.url = url
        self.status = status


class PackageVerificationError(ProviderInstallError):
    """A downloaded package failed its checksum, signature or archive-safety checks."""


class ProviderConfigError(ProviderInstallError):
    """The Terraform/OpenTofu CLI configuration file could not be understood."""
