"""The policy input contract: shape, unknown values, and redaction of sensitive values."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policies._pool import PolicyWorkerPool
from policies.engine import evaluate_policy
from policies.input import (
    ANY_ELEMENT,
    SENSITIVE,
    UNKNOWN,
    PolicyActor,
    PolicyInput,
    PolicyProject,
    PolicyRequest,
    ResourceFacts,
    build_policy_input,
    redact,
)


class Unknown:
    """Stands in for the codec's unknown sentinel (providers/codec.py)."""


class Secret:
    """Stands in for a value the codec already marked sensitive."""

    def __init__(self, value: str) -> None:
        self.value = value


UNKNOWN_VALUE = Unknown()


def is_unknown(value: object) -> bool:
    return isinstance(value, Unknown)


def is_secret(value: object) -> bool:
    return isinstance(value, Secret)


def facts(**overrides: Any) -> ResourceFacts:
    values: dict[str, Any] = {
        "resource_id": "db",
        "resource_type": "aws_db_instance",
        "provider": "hashicorp/aws",
        "provider_version": "5.100.0",
        "operation": "update",
        "current_state": {"password": "old-pass-123", "engine": "postgres", "tags": None},
        "proposed_state": {
            "password": "new-pass-456",
            "engine": "postgres",
            "endpoint": UNKNOWN_VALUE,
        },
    }
    values.update(overrides)
    return ResourceFacts(**values)


def build(resource: ResourceFacts, **kwargs: Any) -> PolicyInput:
    return build_policy_input(
        resource,
        PolicyProject(id="p1", name="payments", space="prod", labels=["team:payments"]),
        PolicyActor(id="u1", name="alice", roles=["operator"], via="mcp"),
        PolicyRequest(change_id="change-p1-01", timestamp_ns=1_761_000_000_000_000_000),
        is_unknown=is_unknown,
        is_sensitive=is_secret,
        **kwargs,
    )


def test_contract_shape() -> None:
    data = build(facts(), sensitive_paths=[["password"]]).model_dump(mode="json")
    # DESIGN.md's four, and the integration (null: none attached).
    assert set(data) == {"resource", "project", "actor", "request", "integration"}
    assert data["integration"] is None
    assert data["resource"] == {
        "resource_id": "db",
        "resource_type": "aws_db_instance",
        "provider": "hashicorp/aws",
        "provider_version": "5.100.0",
        "operation": "update",
        "current_state": {"password": SENSITIVE, "engine": "postgres", "tags": None},
        "proposed_state": {"password": SENSITIVE, "engine": "postgres", "endpoint": UNKNOWN},
        "change": {"actions": ["update"], "replace_paths": []},
        "provider_config": None,
    }
    assert data["project"] == {
        "id": "p1",
        "name": "payments",
        "space": "prod",
        "labels": ["team:payments"],
    }
    assert data["actor"] == {"id": "u1", "name": "alice", "roles": ["operator"], "via": "mcp"}
    assert data["request"] == {
        "change_id": "change-p1-01",
        "timestamp_ns": 1_761_000_000_000_000_000,
    }


@pytest.mark.parametrize(
    ("operation", "replace_paths", "actions"),
    [
        ("create", [], ["create"]),
        ("update", [], ["update"]),
        ("update", [["engine"]], ["delete", "create"]),
        ("delete", [], ["delete"]),
        ("import", [], ["import"]),
        ("refresh", [], ["read"]),
    ],
)
def test_actions_follow_the_operation_unless_given(
    operation: str, replace_paths: list[list[str]], actions: list[str]
) -> None:
    built = build(facts(operation=operation, replace_paths=replace_paths))
    assert built.resource.change.actions == actions
    assert built.resource.change.replace_paths == replace_paths
    given_actions = build(facts(operation=operation, actions=["create", "delete"]))
    assert given_actions.resource.change.actions == ["create", "delete"]


def test_create_and_delete_have_null_states() -> None:
    created = build(facts(operation="create", current_state=None))
    assert created.resource.current_state is None
    deleted = build(facts(operation="delete", proposed_state=None))
    assert deleted.resource.proposed_state is None


def test_wildcards_reach_list_set_and_map_elements() -> None:
    state = {
        "ebs": [{"kms_key": "k1", "size": 8}, {"kms_key": "k2", "size": 16}],
        "ingress": {("rule-a",), ("rule-b",)},
        "env": {"DB_PASSWORD": "p", "MODE": "m"},
        "nested": [[{"token": "t"}]],
    }
    out = redact(
        state,
        [
            ["ebs", ANY_ELEMENT, "kms_key"],
            ["ingress", ANY_ELEMENT],
            ["env", "DB_PASSWORD"],
            ["nested", 0, ANY_ELEMENT, "token"],
        ],
    )
    assert out == {
        "ebs": [{"kms_key": SENSITIVE, "size": 8}, {"kms_key": SENSITIVE, "size": 16}],
        "ingress": [SENSITIVE, SENSITIVE],
        "env": {"DB_PASSWORD": SENSITIVE, "MODE": "m"},
        "nested": [[{"token": SENSITIVE}]],
    }


def test_a_sensitive_container_is_replaced_whole_and_null_stays_null() -> None:
    out = redact(
        {"secrets": {"a": "1", "b": ["2"]}, "optional_secret": None},
        [["secrets"], ["optional_secret"]],
    )
    assert out == {"secrets": SENSITIVE, "optional_secret": None}


def test_an_index_path_reaches_only_that_element() -> None:
    assert redact({"keys": ["a", "b", "c"]}, [["keys", 1]]) == {"keys": ["a", SENSITIVE, "c"]}


def test_already_marked_values_are_redacted_and_markers_pass_through() -> None:
    out = redact(
        {"a": Secret("s3cr3t"), "b": SENSITIVE, "c": [Secret("x")], "d": UNKNOWN_VALUE},
        [],
        is_unknown=is_unknown,
        is_sensitive=is_secret,
    )
    assert out == {"a": SENSITIVE, "b": SENSITIVE, "c": [SENSITIVE], "d": UNKNOWN}


def test_sensitive_wins_over_unknown() -> None:
    assert redact({"p": UNKNOWN_VALUE}, [["p"]], is_unknown=is_unknown) == {"p": SENSITIVE}


def test_values_become_plain_json() -> None:
    out = redact(
        {"n": Decimal("3"), "f": Decimal("2.5"), "t": (1, 2), "s": {3, 1, 2}, 7: "int key"}, []
    )
    assert out == {"n": 3, "f": 2.5, "t": [1, 2], "s": [1, 2, 3], "7": "int key"}
    assert isinstance(out["n"], int)


def test_unrepresentable_values_are_refused_with_their_path() -> None:
    with pytest.raises(TypeError, match=r"value at a\.0: a Unknown cannot be represented"):
        redact({"a": [UNKNOWN_VALUE]}, [])  # no is_unknown: the sentinel is not JSON
    with pytest.raises(ValueError, match="value at x"):
        redact({"x": float("inf")}, [])


def test_provider_config_is_redacted_with_its_own_paths() -> None:
    built = build(
        facts(
            provider_config={
                "region": "eu-west-1",
                "secret_key": "AKIASECRET",
                "assume_role": [{"external_id": "ext"}],
            }
        ),
        provider_sensitive_paths=[["secret_key"], ["assume_role", ANY_ELEMENT, "external_id"]],
    )
    assert built.resource.provider_config == {
        "region": "eu-west-1",
        "secret_key": SENSITIVE,
        "assume_role": [{"external_id": SENSITIVE}],
    }


def test_the_policy_sees_markers_not_values(pool: PolicyWorkerPool) -> None:
    body = """package spacelift
state := input.resource.proposed_state
deny contains "unredacted password" if state.password != "(sensitive)"
deny contains "endpoint should be unknown" if state.endpoint != "(known after apply)"
allow contains "ok" if true
"""
    result = evaluate_policy(body, build(facts(), sensitive_paths=[["password"]]), pool=pool)
    assert (result.deny, result.allow) == ([], ["ok"])


# -- property: a sensitive value never appears anywhere ---------------------------------------

_names = st.text(alphabet="abcdefgh_", min_size=1, max_size=6)
_plain = st.one_of(
    st.none(), st.booleans(), st.integers(-1000, 1000), st.text(alphabet="xyz", max_size=5)
)


@st.composite
def _states(draw: st.DrawFn) -> tuple[dict[str, Any], list[list[str | int]], list[str]]:
    """A state tree with secrets planted at random places, and paths that name them."""
    secrets: list[str] = []
    paths: list[list[str | int]] = []

    def node(depth: int, path: list[str | int]) -> Any:
        kind = draw(
            st.sampled_from(
                ["plain", "secret", "dict", "list", "set"] if depth < 4 else ["plain", "secret"]
            )
        )
        if kind == "secret":
            value = f"SECRET-{len(secrets)}-{draw(st.integers(0, 10**6))}"
            secrets.append(value)
            # Name it exactly, or through a wildcard over list elements.
            paths.append(
                [ANY_ELEMENT if isinstance(s, int) and draw(st.booleans()) else s for s in path]
            )
            return value
        if kind == "dict":
            keys = draw(st.lists(_names, min_size=1, max_size=3, unique=True))
            return {k: node(depth + 1, [*path, k]) for k in keys}
        if kind == "list":
            return [node(depth + 1, [*path, i]) for i in range(draw(st.integers(1, 3)))]
        if kind == "set":
            # Set elements have no index: planting a secret there needs the wildcard.
            count = draw(st.integers(1, 3))
            values = {f"SECRET-set-{len(secrets)}-{i}" for i in range(count)}
            secrets.extend(values)
            paths.append([*path, ANY_ELEMENT])
            return frozenset(values)
        return draw(_plain)

    keys = draw(st.lists(_names, min_size=1, max_size=4, unique=True))
    return {k: node(1, [k]) for k in keys}, paths, secrets


@settings(max_examples=200, deadline=None)
@given(current=_states(), proposed=_states())
def test_sensitive_values_never_reach_the_serialized_input(
    current: tuple[dict[str, Any], list[list[str | int]], list[str]],
    proposed: tuple[dict[str, Any], list[list[str | int]], list[str]],
) -> None:
    (current_state, current_paths, current_secrets) = current
    (proposed_state, proposed_paths, proposed_secrets) = proposed
    built = build(
        facts(
            current_state=current_state,
            proposed_state=proposed_state,
            provider_config=current_state,
        ),
        sensitive_paths=current_paths + proposed_paths,
        provider_sensitive_paths=current_paths,
    )
    serialized = built.model_dump_json() + json.dumps(built.model_dump(mode="json"))
    for secret in current_secrets + proposed_secrets:
        assert secret not in serialized
    # …and what is left is valid contract JSON.
    assert PolicyInput.model_validate_json(built.model_dump_json()) == built
