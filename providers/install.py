"""Resolve ``ADDR[@CONSTRAINT]`` to a provider binary on disk, installing it if needed.

Order of sources:

1. **Local** - our provider directory (``settings.resolved_provider_dir``), then the
   filesystem mirrors: ``INTENT_PROVIDER_MIRRORS``, ``TF_PLUGIN_CACHE_DIR`` and the CLI
   config's ``plugin_cache_dir`` / ``filesystem_mirror`` blocks. If any of them holds a
   version that satisfies the constraint, the newest such version is used and the
   network is not touched: air-gapped installs and repeated resolves stay offline.
2. **Registry** - otherwise the newest matching version the registry builds for this
   platform is downloaded, its ``SHA256SUMS`` signature and checksum are verified, and it
   is unpacked into the provider directory in the unpacked mirror layout. Unpacking
   happens in a staging directory under the provider directory and is moved into place
   with one rename, so a failure at any step leaves nothing installed.

``upgrade=True`` consults the registry even when a local version matches, and installs a
newer one if the registry has it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import shutil
import stat
import tempfile
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from providers import trust
from providers._hashcache import cached_sha256, remember_sha256
from providers._install_errors import (
    PackageVerificationError,
    ProviderConfigError,
    ProviderInstallError,
    ProviderNotAllowedError,
    ProviderNotFoundError,
    RegistryError,
)
from providers._mirrors import LocalPackage, MirrorSource, local_sources, scan_source
from providers._package import (
    extract_package,
    find_executable,
    protocols_from_name,
    verify_checksum,
    verify_signature,
)
from providers.models import (
    DEFAULT_REGISTRY_HOST,
    PUBLIC_REGISTRY_HOSTS,
    InstalledProvider,
    Platform,
    ProviderAddress,
)
from providers.registry import RegistryClient, RegistryVersion, protocol_majors
from providers.versions import Version, VersionConstraintError, VersionConstraints
from settings import Settings

__all__ = [
    "LocalProvider",
    "PackageVerificationError",
    "ProviderConfigError",
    "ProviderInstallError",
    "ProviderNotAllowedError",
    "ProviderNotFoundError",
    "RegistryError",
    "VersionConstraintError",
    "hash_cache_dir",
    "install_provider",
    "installed_zip_sha256",
    "list_local_providers",
    "lock_key",
    "parse_requirement",
    "publish_tree",
]

log = logging.getLogger(__name__)

# Written into every package directory we create: where it came from and which plugin
# protocols it speaks (the registry says so; mirrors only have the file name to go by).
PACKAGE_META = ".intent-package.json"
DEFAULT_PROTOCOLS: tuple[int, ...] = (5, 6)
_SAFE_FILENAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")
_STAGING_PREFIX = ".staging-"
_STAGING_MAX_AGE_SECONDS = 24 * 3600


class LocalProvider(BaseModel):
    """A provider package available without the network."""

    model_config = ConfigDict(frozen=True)

    address: ProviderAddress
    version: str
    platform: str
    layout: Literal["unpacked", "packed"]
    installed: bool  # True when it lives in our provider directory
    path: Path  # the OS_ARCH directory (unpacked) or the zip (packed)
    source: str  # which setting/config made us look there


def parse_requirement(text: str) -> tuple[ProviderAddress, str | None]:
    """``hashicorp/aws@~> 5.0`` → (address, ``"~> 5.0"``); the constraint is optional.

    Raises ``ValueError`` (``VersionConstraintError`` for the constraint part) naming the fix.
    """
    source, sep, constraint = text.partition("@")
    address = ProviderAddress.parse(source)
    pinned = constraint.strip() if sep else ""
    if sep and not pinned:
        raise VersionConstraintError(
            f"{text!r} has an empty version constraint after '@'; write e.g. "
            f"{source.strip()}@~> 5.0, or leave out the '@'"
        )
    if pinned:
        VersionConstraints.parse(pinned)  # fail early, with the parser's explanation
    return address, pinned or None


async def list_local_providers(
    settings: Settings,
    source: str | ProviderAddress | None = None,
    *,
    platform: Platform | None = None,
    all_platforms: bool = False,
) -> list[LocalProvider]:
    """Providers available locally (installed or in mirrors), newest version first.

    Defaults to this machine's platform; ``all_platforms=True`` lists every platform.
    """
    address = ProviderAddress.parse(source) if isinstance(source, str) else source
    wanted = None if all_platforms else (platform or Platform.current())

    def scan() -> list[LocalProvider]:
        found: list[LocalProvider] = []
        for src in local_sources(settings):
            for pkg in scan_source(src, address, wanted):
                found.append(
                    LocalProvider(
                        address=pkg.address,
                        version=str(pkg.version),
                        platform=str(pkg.platform),
                        layout=pkg.layout,
                        installed=src.kind == "installed",
                        path=pkg.path,
                        source=src.origin,
                    )
                )
        # Stable sorts, least significant key first: provider, newest version, then place.
        found.sort(key=lambda p: (p.address.hostname, p.platform, not p.installed))
        found.sort(key=lambda p: Version.parse(p.version), reverse=True)
        found.sort(key=lambda p: p.address.short)
        return found

    return await asyncio.to_thread(scan)


async def install_provider(
    source: str | ProviderAddress,
    constraint: str | None,
    settings: Settings,
    *,
    platform: Platform | None = None,
    upgrade: bool = False,
    client: RegistryClient | None = None,
) -> InstalledProvider:
    """Resolve a provider and version and make sure its binary is on disk.

    Returns the exact (pinned) version, the executable's path and SHA-256, and the plugin
    protocol versions it speaks. ``client`` lets callers share one registry client.

    Raises ``ValueError`` for a malformed address or constraint, and
    :class:`ProviderInstallError` subclasses for everything else, each naming the fix.
    """
    address = ProviderAddress.parse(source) if isinstance(source, str) else source
    reason = trust.refusal(address, settings)
    if reason:
        # Before anything else, the network included: an address that is not allowed
        # must not even be looked up.
        raise ProviderNotAllowedError(reason)
    constraints = VersionConstraints.parse(constraint)
    platform = platform or Platform.current()
    wanted = _describe(address, constraints, platform)

    sources = await asyncio.to_thread(local_sources, settings)
    local = await asyncio.to_thread(_scan_all, sources, address, platform)
    best_local = constraints.newest(pkg.version for pkg in local)

    if best_local is None or upgrade:
        owns_client = client is None
        registry = client or RegistryClient(settings)
        try:
            try:
                remote = await _resolve_remote(registry, address, constraints, platform, local)
            except (RegistryError, ProviderNotFoundError) as exc:
                if best_local is None:
                    raise _nothing_found(wanted, sources, exc) from exc
                log.warning("using local %s %s: %s", address.short, best_local, exc)
                remote = None
            if remote is not None and (best_local is None or remote.parsed_version > best_local):
                return await _install_from_registry(registry, address, remote, platform, settings)
        finally:
            if owns_client:
                await registry.aclose()

    assert best_local is not None  # otherwise the registry branch returned or raised
    candidates = [pkg for pkg in local if pkg.version == best_local]
    order = {src.path: index for index, src in enumerate(sources)}
    # Prefer what needs no work: unpacked before packed, then the configured order.
    candidates.sort(key=lambda p: (p.layout != "unpacked", order.get(p.source.path, 99)))
    return await _use_local(candidates[0], address, settings)


# ------------------------------------------------------------------------------ resolution


def _describe(address: ProviderAddress, constraints: VersionConstraints, platform: Platform) -> str:
    versions = f" ({constraints})" if constraints else ""
    return f"{address.short}{versions} for {platform}"


def _scan_all(
    sources: Sequence[MirrorSource], address: ProviderAddress, platform: Platform
) -> list[LocalPackage]:
    return [pkg for src in sources for pkg in scan_source(src, address, platform)]


def _nothing_found(
    wanted: str, sources: Sequence[MirrorSource], cause: ProviderInstallError
) -> ProviderInstallError:
    searched = "; ".join(src.describe() for src in sources)
    if isinstance(cause, ProviderNotFoundError):
        return ProviderNotFoundError(f"{cause} (nothing local matches either; searched {searched})")
    return RegistryError(
        f"{wanted} is not available locally (searched {searched}) and the registry could not "
        f"be consulted: {cause}"
    )


@dataclass(frozen=True)
class _RemoteChoice:
    """The registry version picked for installation."""

    entry: RegistryVersion
    parsed_version: Version


async def _resolve_remote(
    client: RegistryClient,
    address: ProviderAddress,
    constraints: VersionConstraints,
    platform: Platform,
    local: Sequence[LocalPackage],
) -> _RemoteChoice:
    entries = await client.versions(address)
    usable: dict[Version, RegistryVersion] = {}
    for entry in entries:
        parsed = entry.parsed
        if parsed is not None and entry.supports(platform):
            usable[parsed] = entry
    chosen = constraints.newest(usable)
    if chosen is not None:
        return _RemoteChoice(usable[chosen], chosen)

    offered = sorted(usable, reverse=True)
    listing = ", ".join(str(v) for v in offered[:12]) + (", …" if len(offered) > 12 else "")
    locals_ = sorted({pkg.version for pkg in local}, reverse=True)
    local_note = f"; local copies: {', '.join(map(str, locals_))}" if locals_ else ""
    if not offered:
        raise ProviderNotFoundError(
            f"the registry has no build of {address.short} for {platform}{local_note}; "
            "use a provider that supports this platform, or put a package in a filesystem "
            "mirror (INTENT_PROVIDER_MIRRORS)"
        )
    raise ProviderNotFoundError(
        f"no version of {address.short} matches {str(constraints)!r} for {platform}; the "
        f"registry offers {listing}{local_note}. Change the version constraint"
    )


# ------------------------------------------------------------------------- installation


_locks: weakref.WeakValueDictionary[tuple[Any, ...], asyncio.Lock] = weakref.WeakValueDictionary()


def _install_lock(address: ProviderAddress, version: Version, platform: Platform) -> asyncio.Lock:
    # One install per package at a time in this process, so concurrent resolves of the
    # same provider download it once. (Across processes the final rename arbitrates.)
    key = (id(asyncio.get_running_loop()), address.short, str(version), str(platform))
    lock = _locks.get(key)
    if lock is None:
        lock = asyncio.Lock()
        _locks[key] = lock
    return lock


def _package_dir(
    settings: Settings, address: ProviderAddress, version: Version, platform: Platform
) -> Path:
    return (
        settings.resolved_provider_dir
        / address.hostname
        / address.namespace
        / address.type
        / str(version)
        / str(platform)
    )


def hash_cache_dir(settings: Settings) -> Path:
    """Where binaries' digests are remembered (see ``providers._hashcache``): machine-wide,
    so a fresh data dir does not re-hash a 700 MB binary this machine already knows."""
    return settings.resolved_hash_cache_dir


def lock_key(address: ProviderAddress) -> str:
    """How a project's provider lock names a provider: the full address, with the two
    public registries (which publish the same packages) spelled one way."""
    host = DEFAULT_REGISTRY_HOST if address.hostname in PUBLIC_REGISTRY_HOSTS else address.hostname
    return f"{host}/{address.namespace}/{address.type}"


def installed_zip_sha256(installed: InstalledProvider) -> str | None:
    """The SHA-256 of the registry zip a package was unpacked from, when we know it."""
    recorded = _read_meta(installed.path.parent).get("zip_sha256")
    return recorded if isinstance(recorded, str) and len(recorded) == 64 else None


def _read_meta(directory: Path) -> dict[str, Any]:
    try:
        meta = json.loads((directory / PACKAGE_META).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return meta if isinstance(meta, dict) else {}


def _protocols(directory: Path, executable: Path) -> tuple[int, ...]:
    recorded = _read_meta(directory).get("protocols")
    if isinstance(recorded, list) and recorded and all(isinstance(p, int) for p in recorded):
        return tuple(sorted(recorded))
    return protocols_from_name(executable.name) or DEFAULT_PROTOCOLS


async def _describe_installed(
    address: ProviderAddress,
    version: Version,
    directory: Path,
    settings: Settings,
    *,
    known_sha256: str | None = None,
) -> InstalledProvider:
    executable = find_executable(directory, address.type)
    if executable is None:
        raise ProviderInstallError(
            f"{directory} holds no terraform-provider-{address.type} executable; remove the "
            "directory and retry so the provider is installed afresh"
        )
    if known_sha256:
        await asyncio.to_thread(remember_sha256, hash_cache_dir(settings), executable, known_sha256)
        digest = known_sha256
    else:
        digest = await asyncio.to_thread(cached_sha256, hash_cache_dir(settings), executable)
    return InstalledProvider(
        address=address,
        version=str(version),
        path=executable,
        sha256=digest,
        protocol_versions=_protocols(directory, executable),
    )


class _Staging:
    """A scratch directory inside the provider directory (same filesystem, so the final
    move is one atomic rename). Removed on exit whatever happened."""

    def __init__(self, provider_dir: Path) -> None:
        self.root = provider_dir
        self.path = provider_dir

    def __enter__(self) -> _Staging:
        self.root.mkdir(parents=True, exist_ok=True)
        self._sweep_abandoned()
        self.path = Path(tempfile.mkdtemp(prefix=_STAGING_PREFIX, dir=self.root))
        return self

    def _sweep_abandoned(self) -> None:
        # A process killed mid-install cannot clean up after itself; its staging directory
        # is old by the time anyone else installs. Young ones may belong to a live install.
        cutoff = time.time() - _STAGING_MAX_AGE_SECONDS
        with contextlib.suppress(OSError):
            for entry in self.root.glob(f"{_STAGING_PREFIX}*"):
                with contextlib.suppress(OSError):
                    if entry.is_dir() and entry.stat().st_mtime < cutoff:
                        shutil.rmtree(entry, ignore_errors=True)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        shutil.rmtree(self.path, ignore_errors=True)

    def commit(self, built: Path, target: Path, provider_type: str) -> bool:
        """Move ``built`` to ``target``. Returns False when another installer got there
        first (its copy is equally valid and is kept); raises if the move fails."""
        created: list[Path] = []
        parents = [p for p in target.parents if p.is_relative_to(self.root) and p != self.root]
        for directory in reversed(parents):
            if not directory.exists():
                directory.mkdir(exist_ok=True)
                directory.chmod(0o755)  # the provider account traverses it to the binary
                created.append(directory)
        # Staged under a private umask; providers may run as another account.
        publish_tree(built)
        try:
            os.rename(built, target)
        except OSError as exc:
            if find_executable(target, provider_type) is not None:
                return False
            for directory in reversed(created):
                with contextlib.suppress(OSError):
                    directory.rmdir()
            raise ProviderInstallError(
                f"could not move the unpacked provider into {target} ({exc.strerror}); if "
                "that directory is a leftover, remove it and retry"
            ) from exc
        return True


def publish_tree(root: Path) -> None:
    """Make an installed provider package readable (and its executables executable) by
    every account, the provider account included; nothing in it is a secret."""
    for path in [root, *root.rglob("*")]:
        with contextlib.suppress(OSError):
            mode = path.lstat().st_mode
            if stat.S_ISDIR(mode):
                path.chmod(0o755)
            elif stat.S_ISREG(mode):
                path.chmod(0o755 if mode & stat.S_IXUSR else 0o644)


def _write_meta(directory: Path, meta: dict[str, Any]) -> None:
    (directory / PACKAGE_META).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")


async def _install_from_registry(
    client: RegistryClient,
    address: ProviderAddress,
    choice: _RemoteChoice,
    platform: Platform,
    settings: Settings,
) -> InstalledProvider:
    version = choice.parsed_version
    target = _package_dir(settings, address, version, platform)
    async with _install_lock(address, version, platform):
        if find_executable(target, address.type) is not None:
            return await _describe_installed(address, version, target, settings)

        info = await client.package(address, choice.entry.version, platform)
        what = f"{address.short} {version} ({platform})"
        if not _SAFE_FILENAME.match(info.filename):
            raise PackageVerificationError(
                f"the registry named the package for {what} {info.filename!r}, which is not a "
                "plain file name; the registry is misconfigured - not installing"
            )
        protocols = (
            protocol_majors(info.protocols) or protocol_majors(choice.entry.protocols) or None
        )
        log.info("downloading %s from %s", what, info.download_url)
        with _Staging(settings.resolved_provider_dir) as staging:
            archive = staging.path / info.filename
            actual = await client.download(info.download_url, archive, f"the package of {what}")
            shasums = await client.fetch_bytes(info.shasums_url, f"SHA256SUMS of {what}")
            signature = await client.fetch_bytes(
                info.shasums_signature_url, f"the SHA256SUMS signature of {what}"
            )
            signed_by = await asyncio.to_thread(
                verify_signature,
                shasums,
                signature,
                trust.pinned_keys(address.namespace, settings),
                listed=[key.ascii_armor for key in info.signing_keys],
                namespace=address.namespace,
                what=what,
                shasums_url=info.shasums_url,
                signature_url=info.shasums_signature_url,
            )
            verify_checksum(
                filename=info.filename,
                actual=actual,
                shasums=shasums,
                registry_shasum=info.shasum,
                what=what,
                url=info.shasums_url,
            )
            extracted = await asyncio.to_thread(
                extract_package,
                archive,
                staging.path / "package",
                address.type,
                archive=info.download_url,
            )
            recorded = protocols or protocols_from_name(extracted.executable.name)
            _write_meta(
                extracted.directory,
                {
                    "address": str(address),
                    "version": str(version),
                    "platform": str(platform),
                    "source": "registry",
                    "download_url": info.download_url,
                    "zip_sha256": actual,
                    "signed_by": signed_by,
                    "protocols": list(recorded or DEFAULT_PROTOCOLS),
                },
            )
            moved = await asyncio.to_thread(
                staging.commit, extracted.directory, target, address.type
            )
        log.info("installed %s into %s (signed by %s)", what, target, signed_by)
        return await _describe_installed(
            address,
            version,
            target,
            settings,
            known_sha256=extracted.executable_sha256 if moved else None,
        )


async def _use_local(
    pkg: LocalPackage, address: ProviderAddress, settings: Settings
) -> InstalledProvider:
    if pkg.layout == "unpacked":
        executable = find_executable(pkg.path, address.type)
        if executable is not None and os.access(executable, os.X_OK):
            log.debug("using %s %s from %s", address.short, pkg.version, pkg.source.describe())
            return await _describe_installed(address, pkg.version, pkg.path, settings)
        if pkg.source.kind == "installed" and executable is not None:
            # Our own copy lost its executable bit (e.g. restored from a backup): fix it.
            with contextlib.suppress(OSError):
                executable.chmod(0o755)
            if os.access(executable, os.X_OK):
                return await _describe_installed(address, pkg.version, pkg.path, settings)
    return await _install_from_local(pkg, address, settings)


async def _install_from_local(
    pkg: LocalPackage, address: ProviderAddress, settings: Settings
) -> InstalledProvider:
    """Put a mirror package into the provider directory: unpack a zip, or copy an
    unpacked package whose binary is not executable (mirrors are not ours to chmod)."""
    target = _package_dir(settings, address, pkg.version, pkg.platform)
    async with _install_lock(address, pkg.version, pkg.platform):
        if find_executable(target, address.type) is not None:
            return await _describe_installed(address, pkg.version, target, settings)
        with _Staging(settings.resolved_provider_dir) as staging:
            built = staging.path / "package"
            sha: str | None = None
            if pkg.layout == "packed":
                extracted = await asyncio.to_thread(
                    extract_package, pkg.path, built, address.type, archive=str(pkg.path)
                )
                sha = extracted.executable_sha256
            else:
                await asyncio.to_thread(_copy_package, pkg.path, built, address.type)
            executable = find_executable(built, address.type)
            assert executable is not None  # extract/copy guarantee it
            _write_meta(
                built,
                {
                    "address": str(address),
                    "version": str(pkg.version),
                    "platform": str(pkg.platform),
                    "source": "mirror",
                    "mirror_path": str(pkg.path),
                    "protocols": list(protocols_from_name(executable.name) or DEFAULT_PROTOCOLS),
                },
            )
            moved = await asyncio.to_thread(staging.commit, built, target, address.type)
        log.info("installed %s %s from %s", address.short, pkg.version, pkg.path)
        return await _describe_installed(
            address, pkg.version, target, settings, known_sha256=sha if moved else None
        )


def _copy_package(source: Path, dest: Path, provider_type: str) -> None:
    shutil.copytree(source, dest, symlinks=False, ignore=shutil.ignore_patterns(PACKAGE_META))
    executable = find_executable(dest, provider_type)
    if executable is None:
        raise ProviderInstallError(
            f"{source} holds no terraform-provider-{provider_type} executable; fix the mirror"
        )
    executable.chmod(0o755)
