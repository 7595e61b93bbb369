"""Evaluation semantics of Intent policies: deny/allow/sample, several policies, failures."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest

from policies._pool import PolicyWorkerPool
from policies.engine import evaluate_policies, evaluate_policies_async, evaluate_policy
from policies.input import PolicyInput
from policies.models import PolicySource, PolicyVerdict

ONLY_S3 = """package spacelift

deny contains msg if {
	input.resource.resource_type != "aws_s3_bucket"
	msg := sprintf("%s is not a bucket", [input.resource.resource_type])
}

allow contains "buckets are fine" if input.resource.resource_type == "aws_s3_bucket"
"""

DELETES_REVIEWED = """package spacelift

allow contains "not a delete" if input.resource.operation != "delete"
"""

NEVER_DENY_ALWAYS_SAMPLE = """package spacelift

deny contains msg if {
	false
	msg := "never"
}

sample := true
"""

RUNAWAY = """package spacelift

deny contains msg if {
	n := count([x | some x in numbers.range(1, 100000); some y in numbers.range(1, 100000)])
	msg := sprintf("%d", [n])
}
"""


def operation(
    resource_type: str = "aws_s3_bucket", op: str = "create", **extra: Any
) -> dict[str, Any]:
    data = PolicyInput.example().model_dump(mode="json")
    data["resource"]["resource_type"] = resource_type
    data["resource"]["operation"] = op
    data["resource"]["change"]["actions"] = [op]
    data["request"]["timestamp_ns"] = 1_761_000_000_123_456_789
    data.update(extra)
    return data


def verdict(pool: PolicyWorkerPool, *bodies: str, **kwargs: Any) -> PolicyVerdict:
    sources = [PolicySource(name=f"p{i}", body=body) for i, body in enumerate(bodies)]
    return evaluate_policies(sources, kwargs.pop("input", operation()), pool=pool, **kwargs)


# -- one policy -----------------------------------------------------------------------------


def test_deny_and_allow_are_sorted_string_lists(pool: PolicyWorkerPool) -> None:
    body = """package spacelift
deny contains "b" if true
deny contains "a" if true
allow contains "z" if true
allow contains "y" if true
"""
    result = evaluate_policy(body, operation(), name="letters", pool=pool)
    assert result.deny == ["a", "b"]
    assert result.allow == ["y", "z"]
    assert result.error is None and result.sample is False
    assert result.policy == "letters"
    assert result.duration_ms > 0


def test_walkthrough_policy_allows_buckets_and_denies_instances(pool: PolicyWorkerPool) -> None:
    bucket = evaluate_policy(ONLY_S3, operation("aws_s3_bucket"), pool=pool)
    assert (bucket.deny, bucket.allow) == ([], ["buckets are fine"])
    instance = evaluate_policy(ONLY_S3, operation("aws_instance"), pool=pool)
    assert (instance.deny, instance.allow) == (["aws_instance is not a bucket"], [])


def test_a_policy_without_rules_yields_nothing(pool: PolicyWorkerPool) -> None:
    result = evaluate_policy("package spacelift\n", operation(), pool=pool)
    assert (result.deny, result.allow, result.sample, result.error) == ([], [], False, None)


def test_sample_and_prints_are_reported(pool: PolicyWorkerPool) -> None:
    body = """package spacelift
sample if input.resource.operation == "delete"
allow contains "ok" if {
	print("looking at", input.resource.resource_id)
	true
}
"""
    deleted = evaluate_policy(body, operation(op="delete"), pool=pool)
    assert deleted.sample is True
    assert deleted.prints == ["policy.rego:4: looking at example"]
    assert evaluate_policy(body, operation(op="create"), pool=pool).sample is False


def test_clock_reads_the_request_timestamp(pool: PolicyWorkerPool) -> None:
    body = """package spacelift
deny contains sprintf("%d", [time.now_ns()]) if true
deny contains sprintf("%v", [time.date(time.now_ns())]) if true
"""
    data = operation()
    first = evaluate_policy(body, data, pool=pool)
    assert first.deny == ["1761000000123456789", "[2025, 10, 20]"]
    assert evaluate_policy(body, data, pool=pool).deny == first.deny  # reproducible
    data["request"]["timestamp_ns"] = 5
    assert "5" in evaluate_policy(body, data, pool=pool).deny


def test_input_may_be_the_pydantic_model(pool: PolicyWorkerPool) -> None:
    result = evaluate_policy(ONLY_S3, PolicyInput.example(), pool=pool)
    assert result.allow == ["buckets are fine"]


def test_rego_v0_is_accepted_when_asked(pool: PolicyWorkerPool) -> None:
    body = """package spacelift
deny[msg] {
	input.resource.resource_type != "aws_s3_bucket"
	msg := "v0 says no"
}
"""
    v0 = evaluate_policy(body, operation("aws_instance"), rego_version="v0", pool=pool)
    assert v0.deny == ["v0 says no"] and v0.error is None
    v1 = evaluate_policy(body, operation("aws_instance"), pool=pool)
    assert v1.error is not None and "line 2" in v1.error  # v1 wants `contains ... if`


# -- failing closed ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            'package spacelift\ndeny := "no"\n',
            "`deny` must be a set of strings, but it is a string",
        ),
        (
            'package spacelift\nallow := ["a"]\n',
            "`allow` must be a set of strings, but it is an array",
        ),
        (
            "package spacelift\nallow if true\n",
            "`allow` must be a set of strings, but it is a boolean",
        ),
        (
            "package spacelift\ndeny contains 3 if true\n",
            "`deny` must be a set of strings, but it contains a number",
        ),
        ('package spacelift\nsample := "yes"\n', "`sample` must be a boolean, but it is a string"),
        (
            'package spacelift\ndeny["x"] := 1\n',
            "`deny` must be a set of strings, but it is an object",
        ),
    ],
)
def test_type_errors_deny_naming_the_problem(
    pool: PolicyWorkerPool, body: str, expected: str
) -> None:
    result = evaluate_policy(body, operation(), name="typo", pool=pool)
    assert result.deny == [f"policy typo is invalid: {expected}"]
    assert result.error == result.deny[0]
    assert result.allow == []


def test_evaluation_errors_deny_with_their_position(pool: PolicyWorkerPool) -> None:
    body = (
        "package spacelift\n"
        'allow contains "x" if true\n'
        "deny contains msg if {\n"
        '\tmsg := sprintf("%s", input.resource.resource_id)\n'
        "}\n"
    )
    result = evaluate_policy(body, operation(), name="broken", pool=pool)
    assert result.allow == []  # partial results of a failed policy do not count
    assert len(result.deny) == 1
    reason = result.deny[0]
    assert reason.startswith("policy broken failed: ")
    # regorus points at the argument (a reference: at its last dot); tab = 1 column
    assert "sprintf" in reason and "(line 4, column 37)" in reason


def test_syntax_errors_deny(pool: PolicyWorkerPool) -> None:
    result = evaluate_policy(
        "package spacelift\ndeny contains msg if {\n", operation(), name="half", pool=pool
    )
    assert result.deny == ["policy half failed: expecting expression (line 3, column 1)"]


def test_a_policy_in_another_package_denies(pool: PolicyWorkerPool) -> None:
    result = evaluate_policy(
        'package other\nallow contains "x" if true\n', operation(), name="o", pool=pool
    )
    assert result.deny == [
        "policy o is not an Intent policy: it must declare `package spacelift` (found other)"
    ]


def test_runaway_policy_times_out_into_a_deny(pool: PolicyWorkerPool) -> None:
    started = time.monotonic()
    result = evaluate_policy(RUNAWAY, operation(), name="spin", timeout_seconds=0.5, pool=pool)
    elapsed = time.monotonic() - started
    assert result.deny == ["policy spin exceeded its 0.5s evaluation limit"]
    assert result.timed_out and result.error == result.deny[0]
    assert 0.5 <= elapsed < 5.0  # killed at the limit, not after the loop (minutes)
    # The pool replaced the killed worker: the next evaluation just works.
    assert evaluate_policy(ONLY_S3, operation(), pool=pool).allow == ["buckets are fine"]


def test_default_limit_comes_from_settings(
    monkeypatch: pytest.MonkeyPatch, pool: PolicyWorkerPool
) -> None:
    from settings import Settings

    monkeypatch.setattr("settings.get_settings", lambda: Settings(policy_timeout_seconds=0.3))
    started = time.monotonic()
    result = evaluate_policy(RUNAWAY, operation(), name="spin", pool=pool)
    assert result.deny == ["policy spin exceeded its 0.3s evaluation limit"]
    assert time.monotonic() - started < 3.0


def test_out_of_memory_denies_and_the_pool_recovers() -> None:
    bomb = """package spacelift
deny contains msg if {
	xs := [sprintf("%d-padding", [i]) | some i in numbers.range(1, 100000000)]
	msg := sprintf("%d", [count(xs)])
}
"""
    small = PolicyWorkerPool(size=1, memory_limit_bytes=1536 << 20)
    try:
        result = evaluate_policy(bomb, operation(), name="bomb", timeout_seconds=30, pool=small)
        assert len(result.deny) == 1 and result.deny[0].startswith("policy bomb ")
        assert result.deny[0].endswith(
            "could not be evaluated: it ran out of memory (the limit is 1536 MiB)"
        )
        assert evaluate_policy(ONLY_S3, operation(), pool=small).allow == ["buckets are fine"]
    finally:
        small.close()


# -- several policies ---------------------------------------------------------------------------


def test_no_policy_attached_allows(pool: PolicyWorkerPool) -> None:
    result = evaluate_policies([], operation(), pool=pool)
    assert result.decision == "allowed" and result.reasons == [] and result.results == []
    assert result.summary() == "allowed: no policy is attached"


def test_any_deny_wins_over_allows(pool: PolicyWorkerPool) -> None:
    result = verdict(pool, DELETES_REVIEWED, ONLY_S3, input=operation("aws_instance"))
    assert result.decision == "denied"
    assert [str(r) for r in result.reasons] == ["p1: aws_instance is not a bucket"]
    assert [r.allow for r in result.results] == [["not a delete"], []]


def test_all_deny_reasons_are_kept_with_their_policy(pool: PolicyWorkerPool) -> None:
    result = verdict(
        pool,
        ONLY_S3,
        ONLY_S3.replace("is not a bucket", "is banned"),
        input=operation("aws_instance"),
    )
    assert [(r.policy, r.message) for r in result.reasons] == [
        ("p0", "aws_instance is not a bucket"),
        ("p1", "aws_instance is banned"),
    ]


def test_an_allow_and_no_deny_allows(pool: PolicyWorkerPool) -> None:
    result = verdict(pool, NEVER_DENY_ALWAYS_SAMPLE, DELETES_REVIEWED)
    assert result.decision == "allowed"
    assert [str(r) for r in result.reasons] == ["p1: not a delete"]
    assert [r.policy for r in result.sampled] == ["p0"]


def test_neither_allow_nor_deny_is_pending(pool: PolicyWorkerPool) -> None:
    result = verdict(pool, DELETES_REVIEWED, NEVER_DENY_ALWAYS_SAMPLE, input=operation(op="delete"))
    assert result.decision == "pending" and result.reasons == []
    assert result.summary() == "pending review: no policy allowed or denied the operation"


def test_a_failing_policy_denies_but_the_others_still_run(pool: PolicyWorkerPool) -> None:
    result = verdict(pool, DELETES_REVIEWED, RUNAWAY, ONLY_S3, timeout_seconds=0.4)
    assert result.decision == "denied"
    assert [str(r) for r in result.reasons] == ["p1: policy p1 exceeded its 0.4s evaluation limit"]
    assert [r.allow for r in result.results] == [["not a delete"], [], ["buckets are fine"]]
    assert [r.timed_out for r in result.results] == [False, True, False]


def test_policies_are_independent_even_with_the_same_rule_names(pool: PolicyWorkerPool) -> None:
    conflicting = 'package spacelift\nlimit := 1\nallow contains "one" if limit == 1\n'
    other = 'package spacelift\nlimit := 2\nallow contains "two" if limit == 2\n'
    result = verdict(pool, conflicting, other)
    assert [r.allow for r in result.results] == [["one"], ["two"]]


def test_verdict_round_trips_as_json(pool: PolicyWorkerPool) -> None:
    result = verdict(pool, ONLY_S3, NEVER_DENY_ALWAYS_SAMPLE, input=operation("aws_instance"))
    assert PolicyVerdict.model_validate_json(result.model_dump_json()) == result


def test_concurrent_evaluations_from_threads(pool: PolicyWorkerPool) -> None:
    verdicts: list[str] = []
    errors: list[BaseException] = []

    def work(resource_type: str) -> None:
        try:
            for _ in range(20):
                verdicts.append(verdict(pool, ONLY_S3, input=operation(resource_type)).decision)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [
        threading.Thread(target=work, args=(t,)) for t in ["aws_s3_bucket", "aws_instance"] * 3
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sorted(set(verdicts)) == ["allowed", "denied"] and len(verdicts) == 120
    assert verdicts.count("denied") == 60


async def test_async_variant(pool: PolicyWorkerPool) -> None:
    result = await evaluate_policies_async(
        [PolicySource(name="s3", body=ONLY_S3)], operation("aws_instance"), pool=pool
    )
    assert result.decision == "denied"


def test_input_that_is_not_json_is_a_programming_error(pool: PolicyWorkerPool) -> None:
    with pytest.raises(ValueError):
        evaluate_policy(ONLY_S3, {"x": float("nan")}, pool=pool)


def test_big_integers_survive_the_round_trip(pool: PolicyWorkerPool) -> None:
    body = 'package spacelift\ndeny contains sprintf("%d", [input.n + 1]) if true\n'
    assert evaluate_policy(body, {"n": 2**62}, pool=pool).deny == [str(2**62 + 1)]
    assert json.loads(evaluate_policy(body, {"n": 1}, pool=pool).model_dump_json())["deny"] == ["2"]
