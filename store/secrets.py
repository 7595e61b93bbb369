"""Secrets at rest: secret environment values are Fernet-encrypted in the database.

The key comes from ``INTENT_SECRET_KEY`` (required when several hosts share a
database) or, on a laptop, from ``DATA_DIR/secret.key``, created once with mode 0600.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from settings import Settings

__all__ = ["MASK", "SecretBox", "SecretKeyError", "mask_credentials"]

# What every API shows in place of a secret value.
MASK = "********"
_PREFIX = "fernet:"


class SecretKeyError(RuntimeError):
    pass


# Key names that carry credentials in provider configurations (access_key, secret_key,
# token, password, client_secret, private_key, ...).
_CREDENTIAL_WORDS = ("secret", "password", "token", "key", "credential")


def mask_credentials(value: Any, mask: str = MASK) -> Any:
    """A copy of a provider configuration with credential-looking values masked, at any
    depth. Credentials belong in secret environment variables; a config may still hold
    one, and configs are shown in listings, history and policy inputs."""
    if isinstance(value, dict):
        return {
            k: mask
            if any(w in str(k).lower() for w in _CREDENTIAL_WORDS) and v not in (None, "")
            else mask_credentials(v, mask)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [mask_credentials(v, mask) for v in value]
    return value


class SecretBox:
    def __init__(self, key: bytes) -> None:
        self._key = key
        try:
            self._fernet = Fernet(key)
        except (ValueError, TypeError) as exc:
            raise SecretKeyError(
                "INTENT_SECRET_KEY is not a valid key; generate one with "
                "`python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'`"
            ) from exc

    @classmethod
    def from_settings(cls, settings: Settings) -> SecretBox:
        if settings.secret_key is not None and settings.secret_key.get_secret_value():
            return cls(settings.secret_key.get_secret_value().encode())
        path = settings.data_dir / "secret.key"
        return cls(_key_file(path))

    def derived_key(self, purpose: str) -> bytes:
        """A key for another use (e.g. MCP request state), never the Fernet key itself."""
        return hmac.new(self._key, purpose.encode(), hashlib.sha256).digest()

    def derived_keys(self, purpose: str) -> list[bytes]:
        """``derived_key`` for every active key: what still verifies during a rotation."""
        return [self.derived_key(purpose)]

    def seal(self, clear: str) -> str:
        return _PREFIX + self._fernet.encrypt(clear.encode()).decode()

    def open(self, sealed: str) -> str:
        if not sealed.startswith(_PREFIX):
            raise SecretKeyError("a stored secret is not in the expected format")
        try:
            return self._fernet.decrypt(sealed[len(_PREFIX) :].encode()).decode()
        except InvalidToken as exc:
            raise SecretKeyError(
                "a stored secret cannot be decrypted with this key; every intent process "
                "must use the same INTENT_SECRET_KEY (or share the data directory)"
            ) from exc


def _key_file(path: Path) -> bytes:
    if path.exists():
        return path.read_bytes().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key()
    # Write a private temp file, then link it into place: when two processes race on
    # first start, exactly one key wins and nobody ever reads a half-written file.
    temp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key)
    try:
        os.link(temp, path)
    except FileExistsError:
        pass
    finally:
        temp.unlink(missing_ok=True)
    return path.read_bytes().strip()
