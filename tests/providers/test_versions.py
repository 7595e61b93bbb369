"""Version parsing, ordering and constraint matching, as Terraform/OpenTofu define them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from providers.versions import (
    Version,
    VersionConstraintError,
    VersionConstraints,
    VersionError,
    newest_matching,
)

AVAILABLE = [
    "4.67.0",
    "5.0.0",
    "5.0.1",
    "5.0.9",
    "5.1.0",
    "5.99.1",
    "5.100.0",
    "6.0.0-beta1",
    "6.0.0",
]


def test_parse_and_render() -> None:
    v = Version.parse("5.100.0-rc.1+build.7")
    assert (v.major, v.minor, v.patch, v.prerelease, v.metadata) == (5, 100, 0, "rc.1", "build.7")
    assert str(v) == "5.100.0-rc.1+build.7"
    assert Version.parse("v1.2.3") == Version.parse("1.2.3")  # search API spells it so
    for bad in ["", "1", "1.2", "1.2.3.4", "a.b.c", "1.2.3-", "1.2.3+", "1.2.3-a..b"]:
        with pytest.raises(VersionError):
            Version.parse(bad)


def test_semver_precedence() -> None:
    ordered = [
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-alpha.beta",
        "1.0.0-beta",
        "1.0.0-beta.2",
        "1.0.0-beta.11",
        "1.0.0-rc.1",
        "1.0.0",
        "1.0.1",
        "1.2.0",
        "1.10.0",
        "2.0.0",
    ]
    parsed = [Version.parse(v) for v in ordered]
    assert sorted(reversed(parsed)) == parsed
    assert Version.parse("1.0.0+a") == Version.parse("1.0.0+b")  # build metadata is ignored
    assert len({Version.parse("1.0.0+a"), Version.parse("1.0.0")}) == 1


@pytest.mark.parametrize(
    ("constraint", "expected"),
    [
        (None, "6.0.0"),
        ("", "6.0.0"),
        ("5.0.1", "5.0.1"),
        ("= 5.0.1", "5.0.1"),
        ("=5.0", "5.0.0"),  # missing numbers are zero, not wildcards
        ("!= 6.0.0", "5.100.0"),
        ("> 5.0.0, < 5.1", "5.0.9"),
        (">= 5.0, < 6.0", "5.100.0"),
        ("<= 5.0.9", "5.0.9"),
        ("< 5", "4.67.0"),
        ("~> 5.0", "5.100.0"),  # >= 5.0.0, < 6.0.0
        ("~> 5", "5.100.0"),  # one number behaves like two
        ("~> 5.0.1", "5.0.9"),  # >= 5.0.1, < 5.1.0
        ("~> 5.1.0", "5.1.0"),
        ("~> 5.99", "5.100.0"),
        ("~>5.0,!=5.100.0", "5.99.1"),  # spaces are optional
        (" >= 4 , < 5 ", "4.67.0"),
        ("= 6.0.0-beta1", "6.0.0-beta1"),  # a pre-release only when named exactly
        ("6.0.0-beta1", "6.0.0-beta1"),
        (">= 6.0.0-beta1, < 6.0.0", None),  # ... never through a range
        ("~> 7.0", None),
        ("> 6.0.0", None),
        ("= 5.0.0, = 5.0.1", None),
    ],
)
def test_newest_matching(constraint: str | None, expected: str | None) -> None:
    found = newest_matching(AVAILABLE, constraint)
    assert (str(found) if found else None) == expected


def test_prerelease_requires_all_clauses() -> None:
    assert newest_matching(AVAILABLE, "= 6.0.0-beta1, < 6.0.0-alpha") is None
    assert newest_matching(AVAILABLE, "6.0.0-beta1, >= 5.0") == Version.parse("6.0.0-beta1")
    assert newest_matching(["1.0.0-rc1"], None) is None


def test_malformed_versions_in_a_listing_are_skipped() -> None:
    assert newest_matching(["1.0.0", "latest", "v2", "1.1.0"], ">= 1.0") == Version.parse("1.1.0")


@pytest.mark.parametrize(
    ("constraint", "message"),
    [
        ("v5.0", "without a 'v' prefix"),
        (">= v5.0", "without a 'v' prefix"),
        ("=> 5.0", "did you mean '>='"),
        ("=< 5.0", "did you mean '<='"),
        ("== 5.0", "did you mean '='"),
        ("5.*", "wildcards are not supported"),
        ("5.x", "wildcards are not supported"),
        ("1.2.3.4", "at most three numbers"),
        (">= 1.0,", "empty clause"),
        (">= 1.0,, < 2", "empty clause"),
        ("^1.2", "is not a version"),
        ("1.0 || 2.0", "no '||' alternatives"),
        ("latest", "is not a version"),
        ("~>", "is not a version"),
    ],
)
def test_constraint_errors_say_how_to_fix(constraint: str, message: str) -> None:
    with pytest.raises(VersionConstraintError, match=message) as info:
        VersionConstraints.parse(constraint)
    assert repr(constraint) in str(info.value)
    assert isinstance(info.value, ValueError)


def test_constraints_render_canonically() -> None:
    assert (
        str(VersionConstraints.parse("~>5.0,>=5.0.1 ,!=5.2.0-rc1"))
        == "~> 5.0, >= 5.0.1, != 5.2.0-rc1"
    )
    assert not VersionConstraints.parse(None)
    assert VersionConstraints.parse(">= 1")


# ------------------------------------------------------------------------------ properties

_numbers = st.integers(min_value=0, max_value=60)
_releases = st.builds(Version, _numbers, _numbers, _numbers)
_prerelease = st.from_regex(r"(alpha|beta|rc)(\.[0-9]{1,2})?", fullmatch=True)
_any_version = st.one_of(
    _releases,
    st.builds(Version, _numbers, _numbers, _numbers, _prerelease),
)


@given(_releases, _releases)
def test_release_order_is_numeric_tuple_order(a: Version, b: Version) -> None:
    assert (a < b) == ((a.major, a.minor, a.patch) < (b.major, b.minor, b.patch))
    assert Version.parse(str(a)) == a


@given(_any_version, st.integers(0, 40), st.integers(0, 40))
def test_pessimistic_two_numbers_is_a_major_range(v: Version, major: int, minor: int) -> None:
    pessimistic = VersionConstraints.parse(f"~> {major}.{minor}")
    explicit = VersionConstraints.parse(f">= {major}.{minor}.0, < {major + 1}.0.0")
    assert pessimistic.allows(v) == explicit.allows(v)


@given(_any_version, st.integers(0, 40), st.integers(0, 40), st.integers(0, 40))
def test_pessimistic_three_numbers_is_a_minor_range(
    v: Version, major: int, minor: int, patch: int
) -> None:
    pessimistic = VersionConstraints.parse(f"~> {major}.{minor}.{patch}")
    explicit = VersionConstraints.parse(f">= {major}.{minor}.{patch}, < {major}.{minor + 1}.0")
    assert pessimistic.allows(v) == explicit.allows(v)


@given(
    st.lists(_any_version, max_size=12), st.sampled_from(["", ">= 3", "~> 2.1", "< 10, != 4.0.0"])
)
def test_newest_is_the_maximum_allowed(versions: list[Version], constraint: str) -> None:
    constraints = VersionConstraints.parse(constraint)
    allowed = [v for v in versions if constraints.allows(v)]
    assert constraints.newest(versions) == (max(allowed) if allowed else None)
    assert all(not v.is_prerelease for v in allowed)  # only exact "=" admits pre-releases
