"""SHA-256 of provider binaries, remembered across calls and processes.

Provider binaries are large (the AWS one is ~700 MB) and every install/resolve reports
the binary's digest (the schema cache is keyed by it), so rehashing on every call would
cost seconds. The digest is stored in a small JSON sidecar under the provider directory,
keyed by the file's path, size, mtime and inode: any rewrite of the binary changes at
least one of those and forces a fresh hash. Sidecars live in our own directory rather
than next to the binary because mirrors may be read-only or shared with Terraform.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path

__all__ = ["cached_sha256", "file_sha256", "remember_sha256"]

_CHUNK = 1 << 20


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file, read in chunks so memory stays flat."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _sidecar(cache_dir: Path, binary: Path) -> Path:
    key = hashlib.sha256(str(binary).encode("utf-8", "surrogateescape")).hexdigest()[:40]
    return cache_dir / f"{key}.json"


def _fingerprint(binary: Path) -> dict[str, object]:
    st = binary.stat()
    # ctime cannot be set back by the file's owner, unlike mtime: a rewrite always shows.
    return {
        "path": str(binary),
        "size": st.st_size,
        "mtime_ns": st.st_mtime_ns,
        "ctime_ns": st.st_ctime_ns,
        "ino": st.st_ino,
    }


def remember_sha256(cache_dir: Path, binary: Path, sha256: str) -> None:
    """Record a digest computed elsewhere (e.g. while extracting) for ``binary``.

    A cache that cannot be written only costs a rehash later, so failures are ignored.
    """
    binary = binary.resolve()
    record = {**_fingerprint(binary), "sha256": sha256}
    with contextlib.suppress(OSError):
        cache_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cache_dir, prefix=".sha256-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(record, handle)
            os.replace(tmp, _sidecar(cache_dir, binary))
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise


def cached_sha256(cache_dir: Path, binary: Path) -> str:
    """The binary's SHA-256, from the sidecar when the file is unchanged, else computed."""
    binary = binary.resolve()
    fingerprint = _fingerprint(binary)
    with contextlib.suppress(OSError, ValueError):
        record = json.loads(_sidecar(cache_dir, binary).read_text(encoding="utf-8"))
        digest = record.get("sha256") if isinstance(record, dict) else None
        if (
            isinstance(digest, str)
            and len(digest) == 64
            and all(record.get(k) == v for k, v in fingerprint.items())
        ):
            return digest
    digest = file_sha256(binary)
    # Only trust the digest if the file did not change while we read it.
    if _fingerprint(binary) == fingerprint:
        remember_sha256(cache_dir, binary, digest)
    return digest
