"""Checks and unpacking for provider packages (``terraform-provider-TYPE_VERSION_OS_ARCH.zip``).

A package is trusted only through this chain: the registry's signing key signs
``SHA256SUMS``; ``SHA256SUMS`` names the zip's SHA-256; the zip's entries stay inside the
directory we unpack into. Every check raises :class:`PackageVerificationError` with the
reason, and nothing here writes outside the staging directory it is given.
"""

from __future__ import annotations

import hashlib
import re
import stat
import warnings
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from providers._install_errors import PackageVerificationError

with warnings.catch_warnings():
    # pgpy imports the deprecated ``imghdr`` module; that is its business, not our users'.
    warnings.simplefilter("ignore", DeprecationWarning)
    import pgpy
    from pgpy.errors import PGPError

__all__ = [
    "ExtractedPackage",
    "extract_package",
    "find_executable",
    "parse_shasums",
    "protocols_from_name",
    "verify_checksum",
    "verify_signature",
]

# A provider binary is a few hundred MB at most; anything claiming far more is a bomb.
MAX_UNPACKED_BYTES = 8 << 30
MAX_ENTRIES = 10_000
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_PROTOCOL_SUFFIX = re.compile(r"_x(\d+)(?:\.exe)?$")


# ------------------------------------------------------------------------------ signature


def verify_signature(
    shasums: bytes,
    signature: bytes,
    pinned: Sequence[str],
    *,
    listed: Sequence[str] = (),
    namespace: str,
    what: str,
    shasums_url: str,
    signature_url: str,
) -> str:
    """Check the detached OpenPGP ``signature`` over ``shasums`` against the keys pinned
    for ``namespace`` on this server; return the id of the key that signed.

    The keys the registry ``listed`` are never trusted (a registry can list any key); they
    only make the refusal say which key signed. ``what`` names the package in errors.
    """
    fix = (
        f"an admin who has checked the publisher's key can pin it for {namespace} in "
        "INTENT_PROVIDER_TRUST_DIRS (NAMESPACE/*.asc)"
    )
    if not pinned:
        raise PackageVerificationError(
            f"no signing key is pinned for providers of namespace {namespace!r} on this server, "
            f"so {what} cannot be authenticated; not installing. {fix[0].upper()}{fix[1:]}, or "
            "place a package you trust in a filesystem mirror (INTENT_PROVIDER_MIRRORS)"
        )
    try:
        sig = pgpy.PGPSignature.from_blob(signature)
    except (PGPError, ValueError, TypeError, NotImplementedError) as exc:
        raise PackageVerificationError(
            f"{signature_url} is not an OpenPGP signature ({exc}); the download of {what} was "
            "corrupted or tampered with - not installing"
        ) from exc

    keys = _read_keys(pinned)
    if not keys:
        raise PackageVerificationError(
            f"none of the signing keys pinned for {namespace!r} could be read as an OpenPGP "
            "public key; fix the files in INTENT_PROVIDER_TRUST_DIRS"
        )
    signer = (sig.signer or "").upper()
    # A signature names its issuer; only keys with that id can have made it. (Without an
    # issuer every key is a candidate.)
    candidates = [key for key in keys if not signer or signer in _key_ids(key)]
    if not candidates:
        listed_ids = {i for key in _read_keys(listed) for i in _key_ids(key)}
        pinned_ids = ", ".join(key.fingerprint.keyid.upper() for key in keys)
        if signer in listed_ids:
            raise PackageVerificationError(
                f"SHA256SUMS for {what} ({shasums_url}) is signed by key {signer}, which the "
                f"registry lists but which is not pinned for {namespace!r} here (pinned: "
                f"{pinned_ids}); not installing. If that key really is the publisher's, {fix}"
            )
        raise PackageVerificationError(
            f"SHA256SUMS for {what} ({shasums_url}) is signed by key {signer}, which is not a "
            f"key pinned for {namespace!r} ({pinned_ids}); the package may have been tampered "
            "with - not installing"
        )
    for key in candidates:
        try:
            with warnings.catch_warnings():
                # pgpy warns that it skips some self-signature/revocation checks; the key
                # is pinned here, so the signature check is what counts.
                warnings.simplefilter("ignore")
                if key.verify(shasums, sig):
                    return str(key.fingerprint.keyid).upper()
        except (PGPError, ValueError, TypeError, NotImplementedError):
            continue
    raise PackageVerificationError(
        f"the signature {signature_url} does not match SHA256SUMS for {what} ({shasums_url}); "
        "the file was altered or corrupted in transit - not installing. Retry, and report it "
        "to the registry operator if it persists"
    )


def _read_keys(armored: Sequence[str]) -> list[pgpy.PGPKey]:
    keys: list[pgpy.PGPKey] = []
    for armor in armored:
        try:
            key, _ = pgpy.PGPKey.from_blob(armor)
        except (PGPError, ValueError, TypeError, NotImplementedError):
            continue  # one unreadable key must not veto the others
        keys.append(key)
    return keys


def _key_ids(key: pgpy.PGPKey) -> set[str]:
    return {key.fingerprint.keyid.upper(), *(k.upper() for k in key.subkeys)}


# ------------------------------------------------------------------------------- checksums


def parse_shasums(document: bytes) -> dict[str, str]:
    """``SHA256SUMS`` lines (``HEX  FILENAME``) → {filename: hex}."""
    sums: dict[str, str] = {}
    for raw in document.decode("utf-8", "replace").splitlines():
        parts = raw.strip().split(maxsplit=1)
        if len(parts) != 2:
            continue
        digest, name = parts[0].lower(), parts[1].lstrip("*")  # "*" marks binary mode
        if _SHA256.match(digest):
            sums[name] = digest
    return sums


def verify_checksum(
    *, filename: str, actual: str, shasums: bytes, registry_shasum: str, what: str, url: str
) -> None:
    """The zip's digest must be the one the signed SHA256SUMS lists (and the registry says)."""
    listed = parse_shasums(shasums).get(filename)
    if listed is None:
        raise PackageVerificationError(
            f"the signed SHA256SUMS for {what} ({url}) has no entry for {filename}; the "
            "registry's metadata is inconsistent - not installing"
        )
    if actual != listed:
        raise PackageVerificationError(
            f"checksum mismatch for {filename} ({what}): downloaded data has SHA-256 {actual}, "
            f"the signed SHA256SUMS says {listed}; the download was corrupted or tampered "
            "with - not installing. Retry; report it to the registry operator if it persists"
        )
    if registry_shasum.strip().lower() != listed:
        raise PackageVerificationError(
            f"the registry's shasum for {filename} ({registry_shasum}) differs from the signed "
            f"SHA256SUMS ({listed}); the registry's metadata is inconsistent - not installing"
        )


# ------------------------------------------------------------------------------ unpacking


def find_executable(directory: Path, provider_type: str) -> Path | None:
    """The provider binary in an unpacked package: ``terraform-provider-TYPE`` or
    ``terraform-provider-TYPE_*`` (``.exe`` on Windows), as Terraform looks for it."""
    prefix = f"terraform-provider-{provider_type}"
    try:
        entries = sorted(directory.iterdir())
    except OSError:
        return None
    for entry in entries:
        name = entry.name
        if name in (prefix, f"{prefix}.exe") or name.startswith(f"{prefix}_"):
            if name.endswith(".zip") or not entry.is_file():
                continue
            return entry
    return None


def protocols_from_name(name: str) -> tuple[int, ...] | None:
    """``terraform-provider-aws_v5.100.0_x5`` → ``(5,)``; None when the name does not say."""
    match = _PROTOCOL_SUFFIX.search(name)
    return (int(match.group(1)),) if match else None


@dataclass(frozen=True)
class ExtractedPackage:
    directory: Path
    executable: Path
    executable_sha256: str


def _member_parts(info: zipfile.ZipInfo, archive: str) -> tuple[str, ...]:
    name = info.filename
    unsafe = PackageVerificationError(
        f"{archive} contains the entry {name!r}, which would be written outside the "
        "provider's directory; refusing to unpack it - the package is malicious or broken"
    )
    if "\x00" in name:
        raise unsafe
    normalized = name.replace("\\", "/")
    if normalized.startswith("/") or re.match(r"^[A-Za-z]:", normalized):
        raise unsafe
    parts = tuple(p for p in PurePosixPath(normalized).parts if p not in ("", "."))
    if ".." in parts:
        raise unsafe
    mode = info.external_attr >> 16
    kind = stat.S_IFMT(mode)
    if kind and kind not in (stat.S_IFREG, stat.S_IFDIR):
        what = "a symbolic link" if kind == stat.S_IFLNK else "a special file"
        raise PackageVerificationError(
            f"{archive} contains {what} ({name!r}); provider packages may hold only regular "
            "files - refusing to unpack it"
        )
    return parts


def extract_package(
    zip_path: Path, dest: Path, provider_type: str, *, archive: str
) -> ExtractedPackage:
    """Unpack ``zip_path`` into the new, empty directory ``dest`` after checking every
    entry, mark the provider binary executable and return where it is.

    ``archive`` names the package in error messages (a URL or a mirror path).
    """
    try:
        zf = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise PackageVerificationError(
            f"{archive} is not a valid zip archive ({exc}); the package is corrupt - not installing"
        ) from exc
    dest.mkdir(parents=True, exist_ok=True)
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_ENTRIES:
            raise PackageVerificationError(
                f"{archive} has {len(infos)} entries; a provider package has a handful - refusing"
            )
        # Validate every entry before writing anything, so a bad entry late in the archive
        # cannot leave a partial tree behind.
        plan: list[tuple[zipfile.ZipInfo, tuple[str, ...]]] = []
        seen: set[str] = set()
        total = 0
        root = dest.resolve()
        for info in infos:
            parts = _member_parts(info, archive)
            if not parts:
                continue
            target = root.joinpath(*parts).resolve()
            if not target.is_relative_to(root):
                raise PackageVerificationError(
                    f"{archive} contains the entry {info.filename!r}, which would be written "
                    "outside the provider's directory; refusing to unpack it"
                )
            key = "/".join(parts).lower()
            if key in seen and not info.is_dir():
                raise PackageVerificationError(
                    f"{archive} contains {info.filename!r} twice; refusing an ambiguous package"
                )
            seen.add(key)
            total += info.file_size
            if total > MAX_UNPACKED_BYTES:
                raise PackageVerificationError(
                    f"{archive} would unpack to more than {MAX_UNPACKED_BYTES} bytes; refusing "
                    "(zip bomb or not a provider package)"
                )
            plan.append((info, parts))

        prefix = f"terraform-provider-{provider_type}"
        executable_parts: tuple[str, ...] | None = None
        for info, parts in plan:
            if len(parts) == 1 and not info.is_dir():
                name = parts[0]
                if name in (prefix, f"{prefix}.exe") or name.startswith(f"{prefix}_"):
                    executable_parts = parts
                    break
        if executable_parts is None:
            raise PackageVerificationError(
                f"{archive} has no {prefix} executable at its top level; it is not a package "
                f"of the {provider_type} provider"
            )

        executable_sha = ""
        try:
            for info, parts in plan:
                target = dest.joinpath(*parts)
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                digest = hashlib.sha256()
                with zf.open(info) as src, target.open("xb") as out:
                    while chunk := src.read(1 << 20):
                        digest.update(chunk)
                        out.write(chunk)
                target.chmod(0o755 if parts == executable_parts else 0o644)
                if parts == executable_parts:
                    executable_sha = digest.hexdigest()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as exc:
            raise PackageVerificationError(
                f"could not unpack {archive} ({exc}); the package is corrupt or the disk is "
                "full - not installing"
            ) from exc
        except RuntimeError as exc:  # encrypted entries
            raise PackageVerificationError(f"could not unpack {archive} ({exc})") from exc

    return ExtractedPackage(
        directory=dest,
        executable=dest.joinpath(*executable_parts),
        executable_sha256=executable_sha,
    )
