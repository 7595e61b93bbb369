"""A provider registry on 127.0.0.1 for tests.

It speaks the parts of the provider registry protocol the installer uses (service
discovery, version list, download information), serves package zips, ``SHA256SUMS`` and
its detached signature, and answers OpenTofu-style search queries. Packages are built in
memory: a tiny shell script stands in for the provider binary.

Tests tamper with what is served by editing a :class:`Package` after :meth:`add`; the
sums and signature stay those of the original, as an attacker's mirror would serve them.
"""

from __future__ import annotations

import hashlib
import io
import json
import ssl
import stat
import threading
import warnings
import zipfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import pgpy
    from pgpy.constants import HashAlgorithm, KeyFlags, PubKeyAlgorithm

from providers.models import Platform

__all__ = [
    "FakeRegistry",
    "Package",
    "make_signing_key",
    "provider_script",
    "provider_zip",
    "running_registry",
    "zip_with",
]


def make_signing_key(name: str = "Test Registry Signing") -> pgpy.PGPKey:
    """A fresh RSA key like the ones registries publish (fast enough at 2048 bits)."""
    key = pgpy.PGPKey.new(PubKeyAlgorithm.RSAEncryptOrSign, 2048)
    uid = pgpy.PGPUID.new(name, email="signing@registry.test")
    key.add_uid(uid, usage={KeyFlags.Sign}, hashes=[HashAlgorithm.SHA256])
    return key


def detached_signature(key: pgpy.PGPKey, data: bytes) -> bytes:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return bytes(key.sign(data))


def provider_script(type_: str, version: str) -> bytes:
    """What the fake provider binary contains: prints who it is."""
    return f"#!/bin/sh\necho 'terraform-provider-{type_} {version}'\n".encode()


def zip_with(entries: Mapping[str, bytes], *, modes: Mapping[str, int] | None = None) -> bytes:
    """A zip with the given entries; ``modes`` sets Unix mode bits (file type included)."""
    modes = modes or {}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.create_system = 3  # Unix, so external_attr carries st_mode
            info.external_attr = modes.get(name, stat.S_IFREG | 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return buf.getvalue()


def provider_zip(type_: str, version: str, *, protocol: int | None = 5) -> bytes:
    """A well-formed provider package: the executable plus a license file."""
    suffix = f"_x{protocol}" if protocol else ""
    binary = f"terraform-provider-{type_}_v{version}{suffix}"
    return zip_with(
        {binary: provider_script(type_, version), "LICENSE.txt": b"test license\n"},
        modes={binary: stat.S_IFREG | 0o755},
    )


@dataclass
class Package:
    """One provider version for one platform, exactly as the registry will serve it."""

    namespace: str
    type: str
    version: str
    platform: Platform
    protocols: list[str]
    filename: str
    zip_bytes: bytes
    shasums: bytes
    signature: bytes
    shasum: str
    signing_keys: list[str]
    relative_urls: bool = False

    @property
    def file_prefix(self) -> str:
        return f"/files/{self.namespace}/{self.type}/{self.version}/{self.platform}"


@dataclass
class FakeRegistry:
    """State shared with the HTTP handler; see :func:`running_registry`."""

    key: pgpy.PGPKey
    url: str = ""
    packages: list[Package] = field(default_factory=list)
    search_index: list[dict[str, Any]] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(
        self,
        namespace: str,
        type_: str,
        version: str,
        *,
        platform: Platform | None = None,
        protocols: tuple[str, ...] = ("5.0",),
        zip_bytes: bytes | None = None,
        signed_by: pgpy.PGPKey | None = None,
        listed_keys: list[pgpy.PGPKey] | None = None,
        relative_urls: bool = False,
    ) -> Package:
        """Publish a package. By default it is signed by, and lists, the registry's key."""
        platform = platform or Platform.current()
        data = zip_bytes if zip_bytes is not None else provider_zip(type_, version)
        filename = f"terraform-provider-{type_}_{version}_{platform}.zip"
        digest = hashlib.sha256(data).hexdigest()
        # Real SHA256SUMS files list every platform's zip; one neighbour line is enough.
        shasums = (
            f"{'0' * 64}  terraform-provider-{type_}_{version}_plan9_386.zip\n"
            f"{digest}  {filename}\n"
        ).encode()
        keys = listed_keys if listed_keys is not None else [self.key]
        package = Package(
            namespace=namespace,
            type=type_,
            version=version,
            platform=platform,
            protocols=list(protocols),
            filename=filename,
            zip_bytes=data,
            shasums=shasums,
            signature=detached_signature(signed_by or self.key, shasums),
            shasum=digest,
            signing_keys=[str(k.pubkey) for k in keys],
            relative_urls=relative_urls,
        )
        with self.lock:
            self.packages.append(package)
        return package

    def count(self, fragment: str) -> int:
        with self.lock:
            return sum(fragment in path for path in self.requests)

    # ------------------------------------------------------------------------- responses

    def _versions(self, namespace: str, type_: str) -> dict[str, Any] | None:
        found: dict[str, dict[str, Any]] = {}
        for p in self.packages:
            if (p.namespace, p.type) != (namespace, type_):
                continue
            entry = found.setdefault(
                p.version, {"version": p.version, "protocols": p.protocols, "platforms": []}
            )
            entry["platforms"].append({"os": p.platform.os, "arch": p.platform.arch})
        if not found:
            return None
        return {"id": f"{namespace}/{type_}", "versions": list(found.values()), "warnings": None}

    def _package(
        self, namespace: str, type_: str, version: str, os_: str, arch: str
    ) -> Package | None:
        for p in self.packages:
            if (p.namespace, p.type, p.version, p.platform.os, p.platform.arch) == (
                namespace,
                type_,
                version,
                os_,
                arch,
            ):
                return p
        return None

    def _download(self, p: Package) -> dict[str, Any]:
        # Relative (host-absolute) URLs exercise resolution against the document's URL.
        prefix = p.file_prefix if p.relative_urls else f"{self.url}{p.file_prefix}"
        return {
            "protocols": p.protocols,
            "os": p.platform.os,
            "arch": p.platform.arch,
            "filename": p.filename,
            "download_url": f"{prefix}/{p.filename}",
            "shasums_url": f"{prefix}/SHA256SUMS",
            "shasums_signature_url": f"{prefix}/SHA256SUMS.sig",
            "shasum": p.shasum,
            "signing_keys": {
                "gpg_public_keys": [
                    {"key_id": "", "ascii_armor": armor, "trust_signature": "", "source": "test"}
                    for armor in p.signing_keys
                ]
            },
        }

    def _file(self, path: str) -> bytes | None:
        for p in self.packages:
            if not path.startswith(p.file_prefix + "/"):
                continue
            name = path[len(p.file_prefix) + 1 :]
            return {
                p.filename: p.zip_bytes,
                "SHA256SUMS": p.shasums,
                "SHA256SUMS.sig": p.signature,
            }.get(name)
        return None

    def _search(self, query: str) -> list[dict[str, Any]]:
        terms = [t for t in query.lower().replace("/", " ").split() if t]
        return [
            hit
            for hit in self.search_index
            if any(
                t in f"{hit.get('addr') or ''} {hit.get('description') or ''}".lower()
                for t in terms
            )
        ]

    def respond(self, path: str, query: dict[str, list[str]]) -> tuple[int, str, bytes]:
        """(status, content type, body) for one GET."""
        with self.lock:
            self.requests.append(path)
        as_json = "application/json"
        if path == "/.well-known/terraform.json":
            return 200, as_json, json.dumps({"providers.v1": "/v1/providers/"}).encode()
        parts = [p for p in path.split("/") if p]
        if parts[:2] == ["v1", "providers"]:
            rest = parts[2:]
            if len(rest) == 3 and rest[2] == "versions":
                body = self._versions(rest[0], rest[1])
                if body is not None:
                    return 200, as_json, json.dumps(body).encode()
            if len(rest) == 6 and rest[3] == "download":
                namespace, type_, version, _, os_, arch = rest
                package = self._package(namespace, type_, version, os_, arch)
                if package is not None:
                    return 200, as_json, json.dumps(self._download(package)).encode()
        elif parts[:1] == ["files"]:
            data = self._file(path)
            if data is not None:
                return 200, "application/octet-stream", data
        elif path == "/registry/docs/search":
            q = (query.get("q") or [""])[0]
            if not q:
                return 400, "text/plain", b'Query parameter "q" is required'
            return 200, as_json, json.dumps(self._search(q)).encode()
        return 404, as_json, json.dumps({"errors": ["Not Found"]}).encode()


def _handler(registry: FakeRegistry) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlsplit(self.path)
            status, content_type, body = registry.respond(url.path, parse_qs(url.query))
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output clean

    return Handler


@contextmanager
def running_registry(
    key: pgpy.PGPKey, *, tls: ssl.SSLContext | None = None
) -> Iterator[FakeRegistry]:
    """Serve a fresh :class:`FakeRegistry` on a free port for the duration of the block
    (over HTTPS with ``tls``, a server context)."""
    registry = FakeRegistry(key=key)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(registry))
    server.daemon_threads = True
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    scheme = "https" if tls is not None else "http"
    registry.url = f"{scheme}://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.05},
        name="fake-registry",
        daemon=True,
    )
    thread.start()
    try:
        yield registry
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
