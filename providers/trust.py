"""Which providers this server trusts: allowed addresses, pinned signing keys, lock hashes.

A provider is code that runs on the worker, so three independent checks stand between a
caller's request and an executable:

1. **Address.** ``INTENT_ALLOWED_PROVIDERS`` / ``INTENT_BLOCKED_PROVIDERS`` match the full
   source address ``HOST/NAMESPACE/TYPE``. Nothing else is resolved, downloaded or run,
   and the check comes before any network call.
2. **Signature.** A registry package's ``SHA256SUMS`` must be signed by a key *pinned* for
   its namespace here (the project ships HashiCorp's key for ``hashicorp/*``; admins add
   more with ``INTENT_PROVIDER_TRUST_DIRS``). The keys a registry lists are not trusted:
   a registry could list any key.
3. **Lock.** Each project records the hashes of every provider package it first used
   (Terraform's ``h1:`` over the unpacked files, and ``zh:`` of the zip when known); a
   binary that no longer matches is not launched (``activities/runtime.py``).
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
from functools import lru_cache
from pathlib import Path

from providers._hashcache import cached_sha256, file_sha256
from providers.models import PUBLIC_REGISTRY_HOSTS, ProviderAddress
from settings import Settings

__all__ = [
    "SHIPPED_TRUST_DIR",
    "expand_pattern",
    "package_h1",
    "pinned_keys",
    "refusal",
]

# Keys the project ships: ``NAMESPACE/*.asc`` below this directory.
SHIPPED_TRUST_DIR = Path(__file__).parent / "signing-keys"

# Files intent writes into a package directory; not part of the package's hash.
_OUR_FILES = frozenset({".intent-package.json"})


def expand_pattern(pattern: str) -> list[str]:
    """A pattern as ``HOST/NAMESPACE/TYPE``; ``NAMESPACE/TYPE`` means the public registries."""
    pattern = pattern.strip().lower()
    if pattern.count("/") == 1:
        return [f"{host}/{pattern}" for host in sorted(PUBLIC_REGISTRY_HOSTS)]
    return [pattern]


def _matches(address: str, patterns: list[str]) -> bool:
    return any(
        fnmatch.fnmatchcase(address, p) for pattern in patterns for p in expand_pattern(pattern)
    )


def refusal(address: ProviderAddress, settings: Settings) -> str | None:
    """Why ``address`` may not be installed or run here, or None when it may."""
    full = str(address)
    if _matches(full, settings.blocked_providers):
        return (
            f"provider {full} is blocked on this server (it acts on the worker host itself); "
            "an admin can change INTENT_BLOCKED_PROVIDERS"
        )
    if not _matches(full, settings.allowed_providers):
        allowed = ", ".join(settings.allowed_providers) or "none"
        return (
            f"provider {full} is not allowed on this server (allowed: {allowed}); providers "
            "are code that runs on the worker, so only an admin can allow more, with "
            "INTENT_ALLOWED_PROVIDERS (patterns over HOST/NAMESPACE/TYPE)"
        )
    return None


def pinned_keys(namespace: str, settings: Settings) -> list[str]:
    """Armored OpenPGP keys trusted to sign packages of ``namespace``."""
    dirs = (SHIPPED_TRUST_DIR, *settings.provider_trust_dirs)
    return _keys_in(tuple(str(d) for d in dirs), namespace.lower())


@lru_cache(maxsize=64)
def _keys_in(dirs: tuple[str, ...], namespace: str) -> list[str]:
    found: list[str] = []
    for directory in dirs:
        folder = Path(directory) / namespace
        if folder.is_dir():
            found.extend(p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.asc")))
    return found


def package_h1(directory: Path, hash_cache: Path) -> str:
    """Terraform's ``h1:`` hash of an unpacked package: SHA-256 over the sorted list of
    ``<sha256 hex>  <relative path>`` lines, one per file, base64-encoded.

    Files intent adds are left out, so the hash equals the one ``terraform providers
    lock`` records for the same package (and export can write it to a lock file). The
    large executable's digest comes from the hash cache, which notices any rewrite.
    """
    files = sorted(
        (path.relative_to(directory).as_posix(), path)
        for path in directory.rglob("*")
        if path.is_file() and path.name not in _OUR_FILES
    )
    summary = hashlib.sha256()
    for relative, path in files:
        big = path.stat().st_size > (16 << 20)
        digest = cached_sha256(hash_cache, path) if big else file_sha256(path)
        summary.update(f"{digest}  {relative}\n".encode())
    return "h1:" + base64.b64encode(summary.digest()).decode()
