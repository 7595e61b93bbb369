"""How a provider process gets its session's credentials, and fresh ones later.

A configured provider process lives on (the pool keeps it warm, an apply may take an
hour), but assumed-role credentials expire. So a provider never gets credentials in
its environment: it gets the address of this loopback endpoint and a token naming its
session (``AWS_CONTAINER_CREDENTIALS_FULL_URI`` and ``AWS_CONTAINER_AUTHORIZATION_TOKEN``,
the AWS SDKs' container-credentials protocol). The SDK fetches credentials when it
first needs them and again shortly before they expire; each fetch returns the
session's current credentials, renewed by ``RoleSessions`` when they run short.

A token reaches exactly one session, is derived from a per-worker random key (so it
means nothing to another worker or after a restart), and only its hash is held. The
endpoint listens on 127.0.0.1 only and logs no token and no credential.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import secrets
import time
from dataclasses import dataclass, field

from integrations.sessions import CredentialsUnavailable, RoleSessions, SessionKey

__all__ = ["CredentialEndpoint"]

log = logging.getLogger(__name__)

URI_VARIABLE = "AWS_CONTAINER_CREDENTIALS_FULL_URI"
TOKEN_VARIABLE = "AWS_CONTAINER_AUTHORIZATION_TOKEN"
_PATH = "/credentials"
_MAX_HEAD = 16 * 1024


@dataclass
class _Registration:
    key: SessionKey
    used: float = field(default_factory=time.monotonic)
    served: int = 0
    failure: str | None = None


class CredentialEndpoint:
    """See the module docstring. ``start`` before use, ``aclose`` at the end."""

    def __init__(
        self, sessions: RoleSessions, *, idle_seconds: float = 600.0, host: str = "127.0.0.1"
    ) -> None:
        self.sessions = sessions
        self.idle_seconds = idle_seconds
        self.host = host
        self._swept = time.monotonic()
        self._secret = secrets.token_bytes(32)
        self._by_hash: dict[str, _Registration] = {}
        self._server: asyncio.Server | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}{_PATH}"

    async def start(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(self._serve, self.host, 0)
            self.port = int(self._server.sockets[0].getsockname()[1])

    async def aclose(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    async def provide(self, key: SessionKey) -> dict[str, str]:
        """Assume ``key``'s session now (``CredentialsUnavailable`` names the fix) and
        return the provider environment that reaches its credentials."""
        await self.sessions.credentials(key)
        if time.monotonic() - self._swept > 60:
            self._swept = time.monotonic()
            self.sweep()
        return self.env_for(key)

    def env_for(self, key: SessionKey) -> dict[str, str]:
        """The provider environment that points at ``key``'s credentials."""
        token = hmac.new(self._secret, key.identity.encode(), hashlib.sha256).hexdigest()
        digest = hashlib.sha256(token.encode()).hexdigest()
        registration = self._by_hash.get(digest)
        if registration is None:
            self._by_hash[digest] = _Registration(key)
        else:
            registration.used = time.monotonic()
        return {URI_VARIABLE: self.url, TOKEN_VARIABLE: token}

    def failure(self, key: SessionKey) -> str | None:
        """Why the last fetch for ``key`` failed, if it did (for the activity's error)."""
        for registration in self._by_hash.values():
            if registration.key == key:
                return registration.failure
        return None

    def served(self, key: SessionKey) -> int:
        """How many times a provider fetched ``key``'s credentials."""
        return sum(r.served for r in self._by_hash.values() if r.key == key)

    def sweep(self) -> int:
        """Forget sessions idle longer than ``idle_seconds`` (the pool's idle timeout)
        whose credentials have expired: no live process can still be using them, since
        a working one asks again before they expire."""
        cutoff = time.monotonic() - self.idle_seconds
        stale = [
            digest
            for digest, r in self._by_hash.items()
            if r.used < cutoff and self.sessions.expired(r.key)
        ]
        for digest in stale:
            self.sessions.forget(self._by_hash.pop(digest).key)
        return len(stale)

    # -- HTTP -------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            status, body = await asyncio.wait_for(self._answer(reader), timeout=60)
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            status, body = 400, {"code": "BadRequest", "message": "malformed request"}
        payload = json.dumps(body).encode()
        head = (
            f"HTTP/1.1 {status} {'OK' if status == 200 else 'Error'}\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n"
            "Cache-Control: no-store\r\n"
            "Connection: close\r\n\r\n"
        )
        with contextlib.suppress(ConnectionError):
            writer.write(head.encode() + payload)
            await writer.drain()
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()

    async def _answer(self, reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
        head = await reader.readuntil(b"\r\n\r\n")
        if len(head) > _MAX_HEAD:
            raise ValueError("request head too large")
        lines = head.decode("latin-1").split("\r\n")
        method, _, rest = lines[0].partition(" ")
        path = rest.partition(" ")[0].split("?", 1)[0]
        headers = {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(":") for line in lines[1:] if ":" in line)
        }
        if method != "GET" or path != _PATH:
            return 404, {"code": "NotFound", "message": f"only GET {_PATH}"}
        token = headers.get("authorization", "")
        registration = self._by_hash.get(hashlib.sha256(token.encode()).hexdigest())
        if not token or registration is None:
            return 403, {"code": "AccessDenied", "message": "unknown credentials token"}
        registration.used = time.monotonic()
        try:
            credentials = await self.sessions.credentials(registration.key)
        except CredentialsUnavailable as exc:
            registration.failure = str(exc)
            log.warning("a provider's credentials could not be renewed: %s", exc)
            return 503, {"code": "CredentialsUnavailable", "message": str(exc)}
        registration.failure = None
        registration.served += 1
        return 200, {
            "AccessKeyId": credentials.access_key_id,
            "SecretAccessKey": credentials.secret_access_key,
            "Token": credentials.session_token,
            "Expiration": credentials.expiration.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
