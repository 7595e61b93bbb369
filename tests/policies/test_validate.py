"""validate_policy: syntax errors with reliable positions, the Intent shape, trial runs."""

from __future__ import annotations

import pytest
import regorus
from hypothesis import given, settings
from hypothesis import strategies as st

from policies import library
from policies._errors import char_column, parse_engine_message
from policies._pool import PolicyWorkerPool
from policies.engine import validate_policy
from policies.models import PolicyProblem


def errors(problems: list[PolicyProblem]) -> list[tuple[str, int | None, int | None]]:
    return [(p.message, p.line, p.column) for p in problems if p.severity == "error"]


def test_library_policies_are_valid(pool: PolicyWorkerPool) -> None:
    for name in library.names():
        assert validate_policy(library.read(name), pool=pool) == [], name


@pytest.mark.parametrize(
    ("body", "message", "line", "column"),
    [
        (
            "package spacelift\ndeny contains msg if {\n  msg := \n}\n",
            "expecting `}` while parsing set",
            3,
            7,
        ),
        ("package spacelift\ndeny contains msg if {\n\tmsg := $\n}\n", "invalid character", 3, 9),
        (
            'package spacelift\nx := "héllo 😀"; y := 1\n',
            "expecting identifier. Failed to parse rule-ref.",
            2,
            15,
        ),
        (
            "package spacelift\nx := `tab\there`; y := 1\n",
            "expecting identifier. Failed to parse rule-ref.",
            2,
            16,
        ),
        ('deny contains "x" if true\n', "expecting `package` Missing package declaration.", 1, 1),
        (
            'package spacelift\ndeny[msg] {\n  msg := "x"\n}\n',
            "`if` keyword is required before rule body",
            2,
            11,
        ),
    ],
)
def test_syntax_errors_have_line_and_character_column(
    body: str, message: str, line: int, column: int, pool: PolicyWorkerPool
) -> None:
    assert errors(validate_policy(body, pool=pool)) == [(message, line, column)]


def test_rego_v0_is_accepted_when_asked(pool: PolicyWorkerPool) -> None:
    body = (
        "package spacelift\n\n"
        'deny[msg] {\n  input.resource.operation == "delete"\n  msg := "no deletes"\n}\n'
    )
    assert validate_policy(body, "v0", pool=pool) == []
    assert errors(validate_policy(body, "v1", pool=pool))


def test_package_must_be_spacelift(pool: PolicyWorkerPool) -> None:
    problems = validate_policy('package intent\n\ndeny contains "x" if false\n', pool=pool)
    assert errors(problems) == [
        ("an Intent policy declares `package spacelift`, not `package intent`", 1, 9)
    ]


@pytest.mark.parametrize(
    ("rule", "message", "column"),
    [
        (
            "allow if true",
            "`allow if { ... }` makes `allow` a boolean; Intent collects reasons: "
            'write `allow contains "why" if { ... }`',
            1,
        ),
        ("default allow := false", "`allow` must be a set of strings, not a boolean", 9),
        ('deny := "nope"', "`deny` must be a set of strings, not a string", 1),
        ('deny := {1, "a"}', "`deny` must contain strings (reasons), not a number", 1),
        ("deny contains 42 if true", "`deny` must contain strings (reasons), not a number", 1),
        (
            'deny["x"] if true',
            '`deny["x"]` makes `deny` an object in Rego v1; write `deny contains ... if { ... }`',
            1,
        ),
        ("allow(x) := x", "`allow` is a function here; Intent reads `allow` as a rule", 1),
        ('sample := "yes"', "`sample` must be a boolean, not a string", 1),
        (
            "sample contains 1 if true",
            "`sample` must be a boolean, not a set; write `sample if { ... }`",
            1,
        ),
    ],
)
def test_rule_shapes_are_checked_statically(
    rule: str, message: str, column: int, pool: PolicyWorkerPool
) -> None:
    body = f"package spacelift\n\n{rule}\n"
    found = errors(validate_policy(body, pool=pool))
    assert found[0] == (message, 3, column), found


def test_rule_shapes_are_checked_at_evaluation_too(pool: PolicyWorkerPool) -> None:
    body = 'package spacelift\n\nreasons := {"a": 1}\n\ndeny := reasons\n'
    assert errors(validate_policy(body, pool=pool)) == [
        ("on an example create, `deny` must be a set of strings, but it is an object", 5, 1)
    ]


def test_unknown_functions_are_errors_even_in_unused_functions(pool: PolicyWorkerPool) -> None:
    body = (
        "package spacelift\n\n"
        "helper(x) := y if {\n\ty := lenght(x)\n}\n\n"
        'deny contains "x" if false\n'
    )
    assert errors(validate_policy(body, pool=pool)) == [("unknown function `lenght`", 4, 7)]


def test_local_functions_are_known(pool: PolicyWorkerPool) -> None:
    body = (
        'package spacelift\n\ndouble(x) := x * 2\n\ndeny contains "big" if double(input.n) > 10\n'
    )
    assert errors(validate_policy(body, pool=pool)) == []


def test_imported_libraries_do_not_exist_at_evaluation(pool: PolicyWorkerPool) -> None:
    # A policy is evaluated alone: an import names nothing, which the trial run shows.
    body = (
        'package spacelift\n\nimport data.lib.tags as t\n\ndeny contains "x" if t.missing(input)\n'
    )
    assert errors(validate_policy(body, pool=pool)) == [
        ("could not find function t.missing", 5, 31)
    ]


def test_errors_found_only_by_evaluating_have_positions(pool: PolicyWorkerPool) -> None:
    body = "package spacelift\n\ndeny contains msg if {\n\tmsg := undefined_thing\n}\n"
    assert errors(validate_policy(body, pool=pool)) == [
        ('var undefined_thing is unsafe (path ["spacelift", "undefined_thing"], scopes [{}])', 4, 9)
    ]


def test_input_dependent_failures_are_warnings(pool: PolicyWorkerPool) -> None:
    body = (
        "package spacelift\n\n"
        'deny contains "odd" if {\n\tcount(input.resource.change.actions) / 0 > 1\n}\n'
    )
    problems = validate_policy(body, pool=pool)
    assert errors(problems) == []
    assert [(p.severity, p.line) for p in problems] == [("warning", 4)]
    assert problems[0].message.startswith("evaluating an example create failed: ")


def test_unreproducible_builtins_and_missing_rules_are_warnings(pool: PolicyWorkerPool) -> None:
    body = 'package spacelift\n\nsample if rand.intn("s", 10) == 0\n'
    problems = validate_policy(body, pool=pool)
    assert [(p.severity, p.message) for p in problems] == [
        (
            "warning",
            "the policy defines neither `deny` nor `allow`: every operation it governs "
            "will wait for a human review",
        ),
        ("warning", "`rand.intn` returns a different number on each evaluation"),
    ]


def test_runaway_policies_are_caught(pool: PolicyWorkerPool) -> None:
    body = """package spacelift
deny contains msg if {
	n := count([x | some x in numbers.range(1, 100000); some y in numbers.range(1, 100000)])
	msg := sprintf("%d", [n])
}
"""
    assert errors(validate_policy(body, timeout_seconds=0.3, pool=pool)) == [
        ("on an example create, the policy exceeded its 0.3s evaluation limit", None, None)
    ]


def test_oversized_policies_are_rejected() -> None:
    problems = validate_policy("package spacelift\n" + "# padding\n" * 30000)
    assert [p.message for p in problems] == ["the policy is larger than 262144 bytes"]


def test_time_is_fine(pool: PolicyWorkerPool) -> None:
    body = (
        "package spacelift\n\n"
        'deny contains "weekend" if time.weekday(time.now_ns()) in {"Saturday", "Sunday"}\n'
    )
    assert validate_policy(body, pool=pool) == []


# -- the column translation, against the engine itself --------------------------------------

_ITEMS = st.sampled_from(
    ['"é"', '"😀x"', '"a\\tb"', '"\\u00e9"', "`a\tb`", "`é😀`", "1", '"\\""', "`x\ny`", '"#"', "[]"]
)
_SPACE = st.sampled_from(["", " ", "\t", " \t ", "\t\t"])


@settings(max_examples=300, deadline=None)
@given(items=st.lists(st.tuples(_SPACE, _ITEMS), max_size=5), lead=_SPACE, tail=_SPACE)
def test_columns_match_the_engine(items: list[tuple[str, str]], lead: str, tail: str) -> None:
    """A stray `$` after tabs, multi-byte characters and raw strings is located exactly."""
    values = "".join(f"{space}{item}," for space, item in items)
    body = f"package spacelift\n{lead}v := [{values}{tail}$]\n"
    engine = regorus.Engine()
    with pytest.raises(RuntimeError) as raised:
        engine.add_policy("p.rego", body)
    message = str(raised.value)
    # The traceback refers to this frame, which holds the (thread-bound) engine: break the
    # cycle now, or the collector drops the engine later on whatever thread it runs.
    del raised, engine
    parsed = parse_engine_message(message, {"p.rego": body})
    assert parsed.message == "invalid character"
    assert parsed.file == "p.rego"
    assert parsed.line is not None
    assert parsed.column == body.split("\n")[parsed.line - 1].index("$") + 1


def test_column_translation_edges() -> None:
    source = 'package p\n\tx := "é"\n'
    assert char_column(source, 2, 1) == 1  # inside the tab's 4 columns
    assert char_column(source, 2, 4) == 1
    assert char_column(source, 2, 5) == 2
    assert char_column(source, 2, 99) == len('\tx := "é"') + 1  # past the end
    assert char_column(source, 9, 3) == 3  # no such line: left as it is


def test_messages_without_a_location() -> None:
    parsed = parse_engine_message("not a valid rule path")
    assert (parsed.message, parsed.line, parsed.column) == ("not a valid rule path", None, None)
