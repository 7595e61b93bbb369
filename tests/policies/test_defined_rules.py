"""The worker asks a policy only for the Intent rules it defines, with the same verdicts."""

from __future__ import annotations

import json
from typing import Any

from policies import _rego, library


def engine(body: str) -> Any:
    return _rego.new_engine([(_rego.POLICY_FILE, body)], v0=False)


def test_the_defined_rules_come_from_the_policy_itself() -> None:
    only_deny = 'package spacelift\n\ndeny contains "no" if input.x == 1\n'
    both = (
        "package spacelift\n\ndefault sample := false\n"
        'allow contains "yes" if true\n'
        'deny contains msg if { msg := "no"; input.x == 2 }\n'
    )
    helpers = "package spacelift\n\nhelper := 1\n"
    assert _rego.defined_intent_rules(engine(only_deny)) == ("deny",)
    assert _rego.defined_intent_rules(engine(both)) == ("deny", "allow", "sample")
    assert _rego.defined_intent_rules(engine(helpers)) == ()


def test_asking_only_for_defined_rules_gives_the_same_verdicts() -> None:
    inputs = [
        {"resource": {"resource_type": "aws_s3_bucket", "operation": "create",
                      "proposed_state": {"acl": "public-read", "tags": {}},
                      "change": {"actions": ["create"]}},
         "project": {"labels": []}},
        {"resource": {"resource_type": "aws_instance", "operation": "delete",
                      "proposed_state": None, "change": {"actions": ["delete"]}},
         "project": {"labels": ["region:eu-west-1"]}},
    ]  # fmt: skip
    for name in library.names():
        body = library.read(name)
        for value in inputs:
            full = _rego.evaluate_intent_rules(engine(body), json.dumps(value), now_ns=1)
            prepared = engine(body)
            asked = _rego.evaluate_intent_rules(
                prepared,
                json.dumps(value),
                now_ns=1,
                rules=_rego.defined_intent_rules(prepared),
            )
            assert asked["rules"] == full["rules"], (name, value)
            assert asked["error"] == full["error"]
