"""Pure helpers of the plan and apply rooms, and the masking of credential-looking values."""

from __future__ import annotations

import time

import pytest

from activities.operations import PlanCache, PlanMade
from activities.planning import (
    check_deletes,
    check_existence,
    depends_on,
    desired_config,
    taint_reason,
)
from store.models import Resource
from store.secrets import MASK, mask_credentials
from workflows.models import OperationRequest


def request(
    index: int, kind: str, rid: str, config: dict[str, object] | None = None
) -> OperationRequest:
    return OperationRequest.model_validate(
        {"index": index, "kind": kind, "resource_id": rid, "resource_type": "t", "config": config}
    )


def row(rid: str, status: str = "active", config: dict[str, object] | None = None) -> Resource:
    return Resource(
        project_id="p",
        resource_id=rid,
        resource_type="t",
        provider="hashicorp/aws",
        provider_version="5.100.0",
        config=config or {},
        state={"id": rid},
        status=status,
        last_change_id="change-old",
    )


def test_an_update_is_a_patch_over_the_stored_config_and_keeps_its_references() -> None:
    stored = row("v", config={"bucket": "${b.id}", "status": "Enabled"})
    update = request(0, "update", "v", {"status": "Suspended"})
    assert desired_config(update, stored) == {"bucket": "${b.id}", "status": "Suspended"}
    # The untouched reference still orders the update after its target.
    assert depends_on(update, {"v": {"b"}}, stored) == ["b"]
    assert desired_config(request(1, "delete", "v"), stored) is None


def test_deleting_what_something_that_stays_depends_on_is_refused() -> None:
    deps = {"v": {"b"}}
    refused = check_deletes([request(0, "delete", "b")], {"b", "v"}, deps)
    assert "v still depend(s) on it" in refused[0][0].summary
    # Deleting both in one change is fine (dependents go first).
    assert (
        check_deletes([request(0, "delete", "b"), request(1, "delete", "v")], {"b", "v"}, deps)
        == {}
    )


def test_existence_rules_name_the_fix() -> None:
    with pytest.raises(ValueError, match="already exists"):
        check_existence(request(0, "create", "b", {}), row("b"), "change-new")
    with pytest.raises(ValueError, match="state-list"):
        check_existence(request(0, "update", "b", {}), None, "change-new")
    # A retry of this change's own create that got part-way plans from where it got.
    partial = row("b", status="tainted")
    partial.last_change_id = "change-new"
    check_existence(request(0, "create", "b", {}), partial, "change-new")


def test_a_tainted_object_is_replaced_and_the_plan_says_why() -> None:
    assert taint_reason(row("b")) is None
    assert taint_reason(None) is None
    reason = taint_reason(row("b", status="tainted"))
    assert reason is not None and "tainted" in reason and "replaced" in reason
    missing = row("b", status="missing")
    missing.state = None
    assert taint_reason(missing) is None  # nothing to replace: a retry creates it


def test_a_plan_is_reused_once_for_the_same_request_and_stored_state() -> None:
    cache = PlanCache(max_age=60)
    cache.put("c1", 0, PlanMade(digest="d", stored={"id": "x"}))
    assert cache.take("c1", 0, "other", {"id": "x"}) is None  # the request changed
    cache.put("c1", 0, PlanMade(digest="d", stored={"id": "x"}))
    assert cache.take("c1", 0, "d", {"id": "y"}) is None  # something committed in between
    cache.put("c1", 0, PlanMade(digest="d", stored={"id": "x"}))
    assert cache.take("c1", 0, "d", {"id": "x"}) is not None
    assert cache.take("c1", 0, "d", {"id": "x"}) is None  # used once


def test_an_old_plan_is_made_again() -> None:
    cache = PlanCache(max_age=10)
    cache.put("c1", 0, PlanMade(digest="d", stored=None, made=time.monotonic() - 11))
    assert cache.take("c1", 0, "d", None) is None


def test_the_plan_cache_is_bounded() -> None:
    cache = PlanCache(size=3)
    for i in range(5):
        cache.put("c", i, PlanMade(digest="d", stored=None))
    assert [cache.take("c", i, "d", None) is not None for i in range(5)] == [
        False,
        False,
        True,
        True,
        True,
    ]


def test_credential_looking_values_are_masked_at_any_depth() -> None:
    config = {
        "region": "eu-west-1",
        "access_key": "AKIA123",
        "assume_role": [{"role_arn": "arn:aws:iam::1:role/x", "session_token": "tok"}],
        "endpoints": {"s3": "http://localhost"},
        "secret_key": "",  # empty values say nothing: left as they are
        "token": None,
    }
    masked = mask_credentials(config)
    assert masked == {
        "region": "eu-west-1",
        "access_key": MASK,
        "assume_role": [{"role_arn": "arn:aws:iam::1:role/x", "session_token": MASK}],
        "endpoints": {"s3": "http://localhost"},
        "secret_key": "",
        "token": None,
    }
    assert config["access_key"] == "AKIA123"  # a copy
