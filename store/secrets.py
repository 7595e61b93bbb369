"""Secrets at rest: a keyring of AEAD keys, and what intent derives from it.

Sealed values are ``enc:v1:<key id>:<base64url(nonce ‖ ciphertext ‖ tag)>``, AES-256-GCM
under a key derived (HKDF-SHA256) from one of the configured keys. Several keys may be
active: the first seals, every one opens, so ``intent secrets rotate`` can re-seal rows
while old ones still open. Values sealed by earlier versions (``fernet:…``) still open.

Keys come from ``INTENT_SECRET_KEY`` (one or more, comma-separated; required when
processes do not share a disk) or a key file, one key per line
(``INTENT_SECRET_KEY_FILE``, default ``DATA_DIR/secret.key``, created 0600 on first
start). A key is 32 random bytes, urlsafe-base64 (``intent secrets generate``).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import os
import secrets as _random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from settings import Settings

__all__ = [
    "MASK",
    "SEALED_PREFIX",
    "SecretBox",
    "SecretKeyError",
    "generate_key",
    "is_sealed",
    "key_file_path",
    "mask_credentials",
    "without_credentials",
    "write_key_file",
]

# What every API shows in place of a secret value.
MASK = "********"
SEALED_PREFIX = "enc:v1:"
_LEGACY_PREFIX = "fernet:"
_NONCE = 12


class SecretKeyError(RuntimeError):
    pass


# Key names that carry credentials in provider configurations (access_key, secret_key,
# token, password, client_secret, private_key, client_certificate, app_auth.pem_file …).
_CREDENTIAL_WORDS = ("secret", "password", "token", "key", "credential", "certificate", "pem")


def _credential_key(key: object) -> bool:
    return any(word in str(key).lower() for word in _CREDENTIAL_WORDS)


def mask_credentials(value: Any, mask: str = MASK) -> Any:
    """A copy of a provider configuration with credential-looking values masked, at any
    depth. Credentials belong in secret environment variables; a config may still hold
    one, and configs are shown in listings, history and policy inputs."""
    if isinstance(value, dict):
        return {
            k: mask if _credential_key(k) and v not in (None, "") else mask_credentials(v, mask)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [mask_credentials(v, mask) for v in value]
    return value


def without_credentials(value: Any) -> Any:
    """A copy of a provider configuration without its credential-looking keys, at any
    depth (what an export may write: credentials come from the user's environment)."""
    if isinstance(value, dict):
        return {k: without_credentials(v) for k, v in value.items() if not _credential_key(k)}
    if isinstance(value, list):
        return [without_credentials(v) for v in value]
    return value


def is_sealed(value: object) -> bool:
    return isinstance(value, str) and value.startswith((SEALED_PREFIX, _LEGACY_PREFIX))


def generate_key() -> str:
    return base64.urlsafe_b64encode(_random.token_bytes(32)).decode()


def _decode_key(text: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(text.strip().encode())
    except (ValueError, TypeError):
        raw = b""
    if len(raw) != 32:
        raise SecretKeyError(
            "a configured secret key is not 32 bytes of urlsafe base64; generate one with "
            "`intent secrets generate`"
        )
    return raw


class _Key:
    def __init__(self, text: str) -> None:
        self.text = text.strip()
        self.raw = _decode_key(self.text)
        # The id names the key in sealed values without revealing anything about it.
        self.id = hashlib.sha256(b"intent-key-id" + self.raw).hexdigest()[:8]
        self.aead = AESGCM(
            HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"intent-secrets-v1").derive(
                self.raw
            )
        )


class SecretBox:
    """The keyring. The first key seals; every key opens."""

    def __init__(self, keys: Sequence[str | bytes]) -> None:
        texts = [k.decode() if isinstance(k, bytes) else k for k in keys]
        texts = [t.strip() for t in texts if t.strip()]
        if not texts:
            raise SecretKeyError("no secret key is configured (INTENT_SECRET_KEY)")
        self._keys = [_Key(t) for t in texts]
        self._by_id = {k.id: k for k in self._keys}

    @classmethod
    def from_settings(cls, settings: Settings) -> SecretBox:
        if settings.secret_key is not None and settings.secret_key.get_secret_value():
            return cls(settings.secret_key.get_secret_value().split(","))
        return cls(_key_file(key_file_path(settings)))

    # -- the keys ---------------------------------------------------------------------------

    @property
    def key_ids(self) -> list[str]:
        """Active key ids, the sealing one first."""
        return [k.id for k in self._keys]

    @property
    def primary_id(self) -> str:
        return self._keys[0].id

    def derived_key(self, purpose: str) -> bytes:
        """A key for another use (request digests, MCP request state, actor assertions),
        never the sealing key itself."""
        return hmac.new(self._keys[0].raw, purpose.encode(), hashlib.sha256).digest()

    def derived_keys(self, purpose: str) -> list[bytes]:
        """``derived_key`` for every active key: what still verifies during a rotation."""
        return [hmac.new(k.raw, purpose.encode(), hashlib.sha256).digest() for k in self._keys]

    # -- sealing ----------------------------------------------------------------------------

    def seal(self, clear: str) -> str:
        key = self._keys[0]
        nonce = os.urandom(_NONCE)
        sealed = key.aead.encrypt(nonce, clear.encode(), None)
        body = base64.urlsafe_b64encode(nonce + sealed).decode()
        return f"{SEALED_PREFIX}{key.id}:{body}"

    def open(self, sealed: str) -> str:
        if sealed.startswith(_LEGACY_PREFIX):
            return self._open_legacy(sealed[len(_LEGACY_PREFIX) :])
        if not sealed.startswith(SEALED_PREFIX):
            raise SecretKeyError("a stored secret is not in the expected format")
        key_id, _, body = sealed[len(SEALED_PREFIX) :].partition(":")
        key = self._by_id.get(key_id)
        if key is None:
            raise SecretKeyError(
                f"a stored secret was sealed with key {key_id}, which is not among the active "
                f"keys ({', '.join(self.key_ids)}); every intent process must use the same "
                "INTENT_SECRET_KEY (or key file), and a key may be retired only after "
                "`intent secrets rotate`"
            )
        try:
            raw = base64.urlsafe_b64decode(body.encode())
            return key.aead.decrypt(raw[:_NONCE], raw[_NONCE:], None).decode()
        except (InvalidTag, ValueError) as exc:
            raise SecretKeyError(
                f"a stored secret sealed with key {key_id} does not open: it was altered"
            ) from exc

    def _open_legacy(self, token: str) -> str:
        for key in self._keys:
            try:
                return Fernet(base64.urlsafe_b64encode(key.raw)).decrypt(token.encode()).decode()
            except InvalidToken:
                continue
        raise SecretKeyError(
            "a stored secret cannot be decrypted with the active keys; every intent process "
            "must use the same INTENT_SECRET_KEY (or share the data directory)"
        )

    def sealed_with_primary(self, sealed: str) -> bool:
        return sealed.startswith(f"{SEALED_PREFIX}{self.primary_id}:")

    def reseal(self, sealed: str) -> str:
        """The same secret sealed with the current sealing key."""
        return sealed if self.sealed_with_primary(sealed) else self.seal(self.open(sealed))

    # -- credentials inside provider configurations -----------------------------------------

    def seal_credentials(self, value: Any) -> Any:
        """A provider configuration with its credential-looking values sealed."""
        if isinstance(value, dict):
            return {
                k: self.seal(str(v))
                if _credential_key(k) and isinstance(v, str) and v and not is_sealed(v)
                else self.seal_credentials(v)
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [self.seal_credentials(v) for v in value]
        return value

    def open_credentials(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: self.open_credentials(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.open_credentials(v) for v in value]
        return self.open(value) if is_sealed(value) else value


def key_file_path(settings: Settings) -> Path:
    return settings.secret_key_file or settings.data_dir / "secret.key"


def _key_file(path: Path) -> list[str]:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        write_key_file(path, [generate_key()], exclusive=True)
    return [line for line in path.read_text().splitlines() if line.strip()]


def write_key_file(path: Path, keys: Sequence[str], *, exclusive: bool = False) -> None:
    """Write ``keys`` (sealing key first) to a 0600 file, atomically.

    ``exclusive``: when two processes race on first start, exactly one key wins and
    nobody ever reads a half-written file."""
    temp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write("".join(f"{k}\n" for k in keys))
    try:
        if exclusive:
            with contextlib.suppress(FileExistsError):
                os.link(temp, path)
        else:
            os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)
