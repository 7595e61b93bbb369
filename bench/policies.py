"""Policy evaluation cost per operation, with 1 and 10 attached policies.

    .venv/bin/python bench/policies.py [--ops 2000]

Prints ms/op through the worker pool (what the change workflow pays), the same work
in-process with no time limit (what isolation costs), and the ratio 10:1. Not a test.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from policies import _rego, library
from policies._pool import PolicyWorkerPool
from policies.engine import _encode_input, evaluate_policies
from policies.input import (
    PolicyActor,
    PolicyInput,
    PolicyProject,
    PolicyRequest,
    ResourceFacts,
    build_policy_input,
)
from policies.models import PolicySource


def _input() -> PolicyInput:
    # An S3 bucket create the size of a real plan (the AWS schema has ~40 attributes).
    proposed: dict[str, object] = {f"attribute_{i}": f"value {i}" for i in range(30)}
    proposed |= {
        "bucket": "dev-attachments-123",
        "acl": "private",
        "region": "eu-west-1",
        "tags": {"Owner": "platform-team", "Environment": "dev"},
        "tags_all": None,
        "arn": None,
    }
    return build_policy_input(
        ResourceFacts(
            resource_id="attachments",
            resource_type="aws_s3_bucket",
            provider="hashicorp/aws",
            provider_version="5.100.0",
            operation="create",
            proposed_state=proposed,
        ),
        PolicyProject(id="p1", name="my-project"),
        PolicyActor(id="u1", name="alice", roles=["operator"], via="mcp"),
        PolicyRequest(change_id="change-p1-01", timestamp_ns=time.time_ns()),
    )


def _policies(count: int) -> list[PolicySource]:
    names = library.names()
    # Distinct bodies (a comment makes copies differ), as attached policies would be.
    return [
        PolicySource(
            name=f"{names[i % len(names)]}-{i}",
            body=library.read(names[i % len(names)]) + f"\n# copy {i}\n",
        )
        for i in range(count)
    ]


def _measure(fn: Callable[[], object], ops: int) -> float:
    """Median ms/op over 5 rounds of ``ops // 5`` calls (after a warm-up call)."""
    fn()
    rounds = []
    per_round = max(1, ops // 5)
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(per_round):
            fn()
        rounds.append((time.perf_counter() - started) * 1000 / per_round)
    return statistics.median(rounds)


def _inline(policies: list[PolicySource], input_json: str, now_ns: int) -> Callable[[], object]:
    engines = [_rego.new_engine([(_rego.POLICY_FILE, p.body)], v0=False) for p in policies]
    rules = [_rego.defined_intent_rules(e) for e in engines]
    for engine, defined in zip(engines, rules, strict=True):  # prepared as the worker's are
        _rego.evaluate_intent_rules(engine, input_json, now_ns=now_ns, rules=defined)

    def run() -> object:
        return [
            _rego.evaluate_intent_rules(_rego.clone(e), input_json, now_ns=now_ns, rules=defined)
            for e, defined in zip(engines, rules, strict=True)
        ]

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=2000, help="operations per measurement")
    args = parser.parse_args()
    policy_input = _input()
    input_json, now_ns = _encode_input(policy_input)
    print(f"input: {len(input_json)} bytes of JSON; {args.ops} operations per figure")

    pool = PolicyWorkerPool(size=1)
    started = time.perf_counter()
    pool.warm()
    print(f"worker start (spawn + import regorus): {(time.perf_counter() - started) * 1000:.1f} ms")
    try:
        figures: dict[int, tuple[float, float]] = {}
        for count in (1, 10):
            policies = _policies(count)
            started = time.perf_counter()
            first = evaluate_policies(policies, policy_input, timeout_seconds=2.0, pool=pool)
            cold = (time.perf_counter() - started) * 1000
            assert not any(r.error for r in first.results), first

            def pooled_call(p: list[PolicySource] = policies) -> object:
                return evaluate_policies(p, policy_input, timeout_seconds=2.0, pool=pool)

            pooled = _measure(pooled_call, args.ops)
            inline = _measure(_inline(policies, input_json, now_ns), args.ops)
            figures[count] = (pooled, inline)
            print(
                f"{count:>2} polic{'y' if count == 1 else 'ies'}: {pooled:.3f} ms/op in the worker "
                f"pool, {inline:.3f} ms/op in-process without a limit "
                f"(isolation costs {pooled - inline:.3f} ms/op); first call {cold:.1f} ms "
                f"(parses each policy once)"
            )
        ratio = figures[10][0] / figures[1][0]
        print(f"ratio 10:1 = {ratio:.2f} (in-process {figures[10][1] / figures[1][1]:.2f})")
    finally:
        pool.close()


if __name__ == "__main__":
    main()
