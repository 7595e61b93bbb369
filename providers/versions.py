"""Provider versions and version constraints, with the semantics Terraform/OpenTofu use.

A constraint string is a comma-separated conjunction of clauses (``>= 5.0, < 6.0``). Each
clause is an operator - ``=`` (or none), ``!=``, ``>``, ``>=``, ``<``, ``<=``, ``~>`` - and
a version of one to three numbers; missing numbers count as zero. ``~>`` allows the
right-most given number to grow: ``~> 5.0`` means ``>= 5.0.0, < 6.0.0`` and ``~> 5.0.1``
means ``>= 5.0.1, < 5.1.0`` (a single number, ``~> 5``, behaves like ``~> 5.0``).

Pre-releases (``1.2.0-beta1``) are never picked by ranges; a pre-release is selected only
when an ``=`` clause names exactly that version and every other clause allows it, so a
release pipeline never slides onto an unfinished build by accident.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "Version",
    "VersionConstraintError",
    "VersionConstraints",
    "VersionError",
    "newest_matching",
]


class VersionError(ValueError):
    """A version string is not ``MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]``."""


class VersionConstraintError(ValueError):
    """A version constraint string cannot be parsed; the message says how to fix it."""


_IDENT = r"[0-9A-Za-z-]+"
_DOTTED = rf"{_IDENT}(?:\.{_IDENT})*"
_VERSION = re.compile(rf"^v?(\d+)\.(\d+)\.(\d+)(?:-({_DOTTED}))?(?:\+({_DOTTED}))?$")
# A constraint's version may stop after the major or minor number.
_PARTIAL = re.compile(rf"^(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:-({_DOTTED}))?(?:\+({_DOTTED}))?$")
_CLAUSE = re.compile(r"^(~>|>=|<=|!=|=<|=>|==|>|<|=)?\s*(.*)$", re.DOTALL)

_PreKey = tuple[tuple[int, int | str], ...]


def _prerelease_key(prerelease: str) -> tuple[int, _PreKey]:
    # SemVer precedence: a release sorts after all of its pre-releases; pre-release
    # identifiers compare numerically when numeric, lexically otherwise, and numeric
    # identifiers sort before alphanumeric ones. Python's tuple order does the rest.
    if not prerelease:
        return (1, ())
    return (
        0,
        tuple((0, int(part)) if part.isdigit() else (1, part) for part in prerelease.split(".")),
    )


@functools.total_ordering
@dataclass(frozen=True, eq=False)
class Version:
    """A semantic version. Build metadata is kept for display but ignored in ordering."""

    major: int
    minor: int
    patch: int
    prerelease: str = ""
    metadata: str = ""

    @classmethod
    def parse(cls, text: str) -> Version:
        """Parse a full version. A leading ``v`` is tolerated because some registry APIs
        (the search index) report versions that way."""
        match = _VERSION.match(text.strip())
        if match is None:
            raise VersionError(
                f"{text!r} is not a version; expected MAJOR.MINOR.PATCH such as 5.100.0"
            )
        major, minor, patch, pre, meta = match.groups()
        return cls(int(major), int(minor), int(patch), pre or "", meta or "")

    @property
    def is_prerelease(self) -> bool:
        return bool(self.prerelease)

    @property
    def sort_key(self) -> tuple[int, int, int, tuple[int, _PreKey]]:
        return (self.major, self.minor, self.patch, _prerelease_key(self.prerelease))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self.sort_key == other.sort_key

    def __lt__(self, other: Version) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self.sort_key < other.sort_key

    def __hash__(self) -> int:
        return hash(self.sort_key)

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        if self.prerelease:
            text += f"-{self.prerelease}"
        if self.metadata:
            text += f"+{self.metadata}"
        return text

    def __repr__(self) -> str:
        return f"Version({str(self)!r})"


@dataclass(frozen=True)
class _Clause:
    """One ``OPERATOR VERSION`` term of a constraint."""

    op: str
    boundary: Version
    precision: int  # how many of MAJOR.MINOR.PATCH were written; decides ``~>``'s reach

    def allows(self, version: Version) -> bool:
        b = self.boundary
        if self.op in ("=", "!="):
            same = version == b and (not b.metadata or version.metadata == b.metadata)
            return same if self.op == "=" else not same
        if self.op == ">":
            return version > b
        if self.op == ">=":
            return version >= b
        if self.op == "<":
            return version < b
        if self.op == "<=":
            return version <= b
        # "~>": at least the boundary, below the next increment of the second-to-last
        # number written (the major for one or two numbers, the minor for three).
        if self.precision == 3:
            upper = Version(b.major, b.minor + 1, 0)
        else:
            upper = Version(b.major + 1, 0, 0)
        return b <= version < upper

    def __str__(self) -> str:
        parts = [str(self.boundary.major), str(self.boundary.minor), str(self.boundary.patch)]
        text = ".".join(parts[: self.precision])
        if self.boundary.prerelease:
            text += f"-{self.boundary.prerelease}"
        if self.boundary.metadata:
            text += f"+{self.boundary.metadata}"
        return f"{self.op} {text}"


def _parse_clause(raw: str, whole: str) -> _Clause:
    text = raw.strip()
    if not text:
        raise VersionConstraintError(
            f"version constraint {whole!r} has an empty clause; separate clauses with a "
            "single comma, e.g. '>= 5.0, < 6.0'"
        )
    match = _CLAUSE.match(text)
    assert match is not None  # the pattern accepts any string
    op, rest = match.group(1) or "=", match.group(2).strip()
    hints = {"=<": "<=", "=>": ">=", "==": "="}
    if op in hints:
        raise VersionConstraintError(
            f"invalid operator {op!r} in version constraint {whole!r}; did you mean {hints[op]!r}?"
        )
    if rest.startswith(("v", "V")):
        raise VersionConstraintError(
            f"version constraint {whole!r}: write versions without a 'v' prefix "
            f"(e.g. '{op} {rest[1:]}')"
        )
    if "||" in rest or " - " in rest:
        raise VersionConstraintError(
            f"version constraint {whole!r}: only comma-separated clauses that must all hold "
            "are supported (no '||' alternatives or 'A - B' ranges)"
        )
    if re.search(r"(^|\.)[*xX](\.|$)", rest):
        raise VersionConstraintError(
            f"version constraint {whole!r}: wildcards are not supported; omit the numbers "
            "that may vary (e.g. '~> 5.0' instead of '5.*')"
        )
    if re.match(r"^\d+(\.\d+){3,}", rest):
        raise VersionConstraintError(
            f"version constraint {whole!r}: at most three numbers (MAJOR.MINOR.PATCH) may be given"
        )
    parsed = _PARTIAL.match(rest)
    if parsed is None:
        raise VersionConstraintError(
            f"version constraint {whole!r}: {rest or raw.strip()!r} is not a version; "
            "expected e.g. '5.100.0', '>= 5.0' or '~> 5.0'"
        )
    major, minor, patch, pre, meta = parsed.groups()
    precision = 1 + (minor is not None) + (patch is not None)
    boundary = Version(int(major), int(minor or 0), int(patch or 0), pre or "", meta or "")
    return _Clause(op=op, boundary=boundary, precision=precision)


@dataclass(frozen=True)
class VersionConstraints:
    """A parsed constraint string; the empty constraint allows every release."""

    clauses: tuple[_Clause, ...] = ()

    @classmethod
    def parse(cls, text: str | None) -> VersionConstraints:
        if text is None or not text.strip():
            return cls()
        return cls(tuple(_parse_clause(part, text) for part in text.split(",")))

    def allows(self, version: Version) -> bool:
        """Whether ``version`` may be selected (pre-releases only when named exactly)."""
        if not all(clause.allows(version) for clause in self.clauses):
            return False
        if version.is_prerelease:
            return any(c.op == "=" and c.boundary == version for c in self.clauses)
        return True

    def newest(self, versions: Iterable[Version]) -> Version | None:
        """The highest allowed version, or None when nothing matches."""
        return max((v for v in versions if self.allows(v)), default=None)

    def __str__(self) -> str:
        return ", ".join(str(c) for c in self.clauses)

    def __bool__(self) -> bool:
        return bool(self.clauses)


def newest_matching(
    versions: Iterable[str | Version], constraint: str | VersionConstraints | None
) -> Version | None:
    """Pick the newest version from ``versions`` that ``constraint`` allows.

    Strings that are not versions are skipped, because registries occasionally list
    malformed tags and one bad entry must not make every other version unusable.
    """
    constraints = (
        constraint
        if isinstance(constraint, VersionConstraints)
        else VersionConstraints.parse(constraint)
    )
    parsed: list[Version] = []
    for item in versions:
        if isinstance(item, Version):
            parsed.append(item)
            continue
        try:
            parsed.append(Version.parse(item))
        except VersionError:
            continue
    return constraints.newest(parsed)
