"""How an export's files travel from the worker to the server that asked for them.

Exported files may hold secrets (a state exported with ``--include-secrets``) and always
hold configs, which never cross Temporal in the clear: the worker seals the files with
the keyring every intent process shares, and the server opens them only to hand them to
the caller who asked. Compressed first, so a large project stays a small payload.
"""

from __future__ import annotations

import base64
import json
import zlib

from store.secrets import SecretBox

__all__ = ["open_files", "seal_files"]


def seal_files(box: SecretBox, files: dict[str, str]) -> str:
    packed = zlib.compress(json.dumps(files, sort_keys=True).encode(), 9)
    return box.seal(base64.b64encode(packed).decode("ascii"))


def open_files(box: SecretBox, sealed: str) -> dict[str, str]:
    files = json.loads(zlib.decompress(base64.b64decode(box.open(sealed))))
    if not isinstance(files, dict):
        raise ValueError("an export envelope does not hold files")
    return {str(k): str(v) for k, v in files.items()}
