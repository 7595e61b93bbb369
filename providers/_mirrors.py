"""Local provider sources: our provider directory, filesystem mirrors and plugin caches.

All of them use Terraform's directory layouts under a root directory:

* unpacked: ``HOST/NAMESPACE/TYPE/VERSION/OS_ARCH/terraform-provider-TYPE_…``
* packed:   ``HOST/NAMESPACE/TYPE/terraform-provider-TYPE_VERSION_OS_ARCH.zip``

``registry.terraform.io`` and ``registry.opentofu.org`` directories are interchangeable
(see :func:`providers.models.same_origin`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from providers._cliconfig import FilesystemMirror, cli_config_path, load_cli_config
from providers._package import find_executable
from providers.models import PUBLIC_REGISTRY_HOSTS, Platform, ProviderAddress
from providers.versions import Version, VersionError
from settings import Settings

__all__ = ["LocalPackage", "MirrorSource", "local_sources", "scan_source"]

SourceKind = Literal["installed", "mirror"]
Layout = Literal["unpacked", "packed"]


@dataclass(frozen=True)
class MirrorSource:
    """One root directory to look for providers in, and why we look there."""

    path: Path
    kind: SourceKind
    origin: str  # for messages: "INTENT_PROVIDER_MIRRORS", "TF_PLUGIN_CACHE_DIR" …
    rules: FilesystemMirror | None = None  # include/exclude patterns of a CLI-config mirror

    def applies_to(self, address: ProviderAddress) -> bool:
        return self.rules is None or self.rules.applies_to(address)

    def describe(self) -> str:
        return f"{self.path} ({self.origin})"


@dataclass(frozen=True)
class LocalPackage:
    """A provider package found on disk."""

    address: ProviderAddress  # as spelled by the directories it was found in
    version: Version
    platform: Platform
    layout: Layout
    path: Path  # unpacked: the OS_ARCH directory; packed: the zip file
    source: MirrorSource


def local_sources(settings: Settings, env: Mapping[str, str] | None = None) -> list[MirrorSource]:
    """Every local root, in the order they are preferred: what we installed ourselves,
    then ``INTENT_PROVIDER_MIRRORS``, ``TF_PLUGIN_CACHE_DIR``, and the CLI config's
    ``plugin_cache_dir`` and ``filesystem_mirror`` blocks."""
    env = os.environ if env is None else env
    sources = [MirrorSource(settings.resolved_provider_dir, "installed", "provider directory")]
    for path in settings.provider_mirrors:
        sources.append(MirrorSource(Path(path).expanduser(), "mirror", "INTENT_PROVIDER_MIRRORS"))
    cache_dir = env.get("TF_PLUGIN_CACHE_DIR", "").strip()
    if cache_dir:
        sources.append(MirrorSource(Path(cache_dir).expanduser(), "mirror", "TF_PLUGIN_CACHE_DIR"))
    config_path = cli_config_path(env)
    config = load_cli_config(config_path, env)
    where = str(config_path)
    if config.plugin_cache_dir is not None:
        sources.append(
            MirrorSource(config.plugin_cache_dir, "mirror", f"plugin_cache_dir in {where}")
        )
    for mirror in config.filesystem_mirrors:
        sources.append(
            MirrorSource(mirror.path, "mirror", f"filesystem_mirror in {where}", rules=mirror)
        )
    # The same directory may be named twice (e.g. TF_PLUGIN_CACHE_DIR and the config).
    unique: list[MirrorSource] = []
    seen: set[Path] = set()
    for source in sources:
        key = source.path.resolve() if source.path.exists() else source.path
        if key not in seen:
            seen.add(key)
            unique.append(source)
    return unique


def _dirs(path: Path) -> list[Path]:
    try:
        return sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
    except OSError:
        return []


def _type_dirs(
    root: Path, address: ProviderAddress | None
) -> Iterator[tuple[ProviderAddress, Path]]:
    if address is not None:
        hosts = [address.hostname]
        if address.hostname in PUBLIC_REGISTRY_HOSTS:
            hosts += sorted(PUBLIC_REGISTRY_HOSTS - {address.hostname})
        for host in hosts:
            type_dir = root / host / address.namespace / address.type
            if type_dir.is_dir():
                yield address.model_copy(update={"hostname": host}), type_dir
        return
    for host_dir in _dirs(root):
        for ns_dir in _dirs(host_dir):
            for type_dir in _dirs(ns_dir):
                try:
                    found = ProviderAddress(
                        hostname=host_dir.name, namespace=ns_dir.name, type=type_dir.name
                    )
                except ValueError:
                    continue  # not a provider directory
                yield found, type_dir


def _parse_packed_name(name: str, provider_type: str) -> tuple[Version, Platform] | None:
    prefix = f"terraform-provider-{provider_type}_"
    if not (name.startswith(prefix) and name.endswith(".zip")):
        return None
    parts = name[len(prefix) : -len(".zip")].split("_")
    if len(parts) != 3:
        return None
    try:
        return Version.parse(parts[0]), Platform(os=parts[1], arch=parts[2])
    except (VersionError, ValueError):
        return None


def scan_source(
    source: MirrorSource,
    address: ProviderAddress | None = None,
    platform: Platform | None = None,
) -> list[LocalPackage]:
    """Packages under one root, optionally only for one provider and/or platform."""
    found: list[LocalPackage] = []
    if not source.path.is_dir():
        return found
    for addr, type_dir in _type_dirs(source.path, address):
        if not source.applies_to(addr):
            continue
        for version_dir in _dirs(type_dir):
            if version_dir.name.startswith("v"):
                continue  # Terraform's layout has bare versions; "v1.2.3" is something else
            try:
                version = Version.parse(version_dir.name)
            except VersionError:
                continue
            platform_dirs = (
                [version_dir / str(platform)] if platform is not None else _dirs(version_dir)
            )
            for platform_dir in platform_dirs:
                if not platform_dir.is_dir() or find_executable(platform_dir, addr.type) is None:
                    continue
                try:
                    found_platform = Platform.parse(platform_dir.name)
                except ValueError:
                    continue
                found.append(
                    LocalPackage(addr, version, found_platform, "unpacked", platform_dir, source)
                )
        if source.kind == "installed":
            continue  # we only ever unpack into our own directory
        try:
            zips = sorted(type_dir.glob(f"terraform-provider-{addr.type}_*.zip"))
        except OSError:
            zips = []
        for archive in zips:
            parsed = _parse_packed_name(archive.name, addr.type)
            if parsed is None or not archive.is_file():
                continue
            version, found_platform = parsed
            if platform is not None and found_platform != platform:
                continue
            found.append(LocalPackage(addr, version, found_platform, "packed", archive, source))
    return found
