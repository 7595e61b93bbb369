"""Built-in Intent policies, each with its ``_test.rego`` (shipped as package data).

- ``only_s3_buckets``: the walkthrough's policy; anything but aws_s3_bucket is denied.
- ``deletes_need_review``: everything allowed except deletes and replacements (review).
- ``required_tags``: Owner and Environment tags on taggable AWS resources (deny only).
- ``allowed_regions``: AWS resources stay in allowed regions (deny only).
- ``no_public_s3``: no public ACLs or grants, block public access on (deny only).
- ``review_unlisted_types``: an allow-list; the rest is reviewed; ``sample := true``.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = ["directory", "names", "read"]

_TEST_SUFFIX = "_test.rego"


def directory() -> Path:
    """The directory holding the policies and tests (``intent policy test`` runs it)."""
    return Path(str(resources.files(__name__)))


def names() -> list[str]:
    """The built-in policies' names (file stems), sorted."""
    return sorted(
        p.name.removesuffix(".rego")
        for p in resources.files(__name__).iterdir()
        if p.name.endswith(".rego") and not p.name.endswith(_TEST_SUFFIX)
    )


def read(name: str) -> str:
    """The Rego body of the built-in policy ``name``."""
    if name not in names():
        raise KeyError(f"no built-in policy {name!r}; there are: {', '.join(names())}")
    return resources.files(__name__).joinpath(f"{name}.rego").read_text(encoding="utf-8")
