"""Planning logic (ProposedNew, plan/apply checks, actions, diff) and config conversion."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from providers.codec import UNKNOWN, Typed
from providers.config import convert_config, convert_value
from providers.ctytype import BOOL, DYNAMIC, NUMBER, STRING, ListType, MapType, SetType
from providers.plan import (
    ChangeAction,
    compatibility_problems,
    decide_action,
    diff,
    effective_replace_paths,
    plan_problems,
    planned_data_source_object,
    proposed_new,
    redact,
    values_equal,
    write_only_problems,
)
from providers.schema import Attribute, Block, NestedBlock, NestedType, Schema


def attr(
    name: str,
    ty: Any = STRING,
    *,
    required: bool = False,
    optional: bool = False,
    computed: bool = False,
    sensitive: bool = False,
    write_only: bool = False,
) -> Attribute:
    return Attribute(
        name=name,
        type=ty,
        required=required,
        optional=optional,
        computed=computed,
        sensitive=sensitive,
        write_only=write_only,
    )


RULE = Block(
    attributes={
        "port": attr("port", NUMBER, required=True),
        "cidr": attr("cidr", optional=True),
        "rule_id": attr("rule_id", computed=True),
    }
)
BLOCK = Block(
    attributes={
        "name": attr("name", required=True),
        "id": attr("id", computed=True),
        "size": attr("size", NUMBER, optional=True, computed=True),
        "tags": attr("tags", MapType(STRING), optional=True),
        "secret": attr("secret", optional=True, sensitive=True),
        "password_wo": attr("password_wo", optional=True, write_only=True),
        "disks": Attribute(
            name="disks",
            optional=True,
            nested_type=NestedType(
                nesting="list",
                attributes={
                    "label": attr("label", required=True),
                    "serial": attr("serial", computed=True),
                },
            ),
        ),
    },
    block_types={
        "rule": NestedBlock(type_name="rule", block=RULE, nesting="set"),
        "step": NestedBlock(type_name="step", block=RULE, nesting="list", max_items=2),
        "settings": NestedBlock(
            type_name="settings",
            nesting="single",
            block=Block(attributes={"mode": attr("mode", optional=True)}),
        ),
        "group": NestedBlock(
            type_name="group",
            nesting="group",
            block=Block(attributes={"flag": attr("flag", BOOL, optional=True)}),
        ),
    },
)


def cfg(raw: dict[str, Any]) -> Any:
    value, diags = convert_config(BLOCK, raw)
    assert not [d for d in diags if d.severity == "error"], diags
    return value


def prior_state() -> dict[str, Any]:
    return {
        "name": "a",
        "id": "i-1",
        "size": 10,
        "tags": {"env": "dev"},
        "secret": "shh",
        "password_wo": None,
        "disks": [{"label": "root", "serial": "s-1"}],
        "rule": [
            {"port": 22, "cidr": "10.0.0.0/8", "rule_id": "r-22"},
            {"port": 80, "cidr": None, "rule_id": "r-80"},
        ],
        "step": [{"port": 1, "cidr": None, "rule_id": "x-1"}],
        "settings": None,
        "group": {"flag": None},
    }


# -- config conversion -------------------------------------------------------------------


def test_config_fills_every_attribute_and_block() -> None:
    value = cfg({"name": "a"})
    assert value == {
        "name": "a",
        "id": None,
        "size": None,
        "tags": None,
        "secret": None,
        "password_wo": None,
        "disks": None,
        "rule": [],
        "step": [],
        "settings": None,
        "group": {"flag": None},
    }


def test_config_conversions_and_block_shorthand() -> None:
    value = cfg(
        {
            "name": 7,  # number -> string
            "size": "12",  # string -> number
            "tags": {"n": 1, "b": True},
            "rule": {"port": "22"},  # one object for a set of blocks
            "settings": [{"mode": "x"}],  # a one-element list for a single block
            "group": {"flag": "true"},
        }
    )
    assert value["name"] == "7" and value["size"] == 12
    assert value["tags"] == {"n": "1", "b": "true"}
    assert value["rule"] == [{"port": 22, "cidr": None, "rule_id": None}]
    assert value["settings"] == {"mode": "x"}
    assert value["group"] == {"flag": True}


def test_config_strings_are_nfc() -> None:
    decomposed = "cafe\u0301"  # "café" with a combining accent
    assert cfg({"name": decomposed})["name"] == "caf\u00e9"


def test_config_errors_have_paths() -> None:
    _, diags = convert_config(
        BLOCK,
        {
            "nmae": "x",
            "id": "i-2",
            "size": "big",
            "tags": {"k": ["list"]},
            "step": [{"port": 1}, {"port": 2}, {"port": 3}],
            "rule": [{"port": 1, "rule_idd": 1}],
        },
    )
    by_path = {d.attribute: d for d in diags if d.severity == "error"}
    assert 'Did you mean "name"' in by_path["nmae"].detail
    assert by_path["name"].summary == "Missing required argument"
    assert by_path["id"].summary == "Value for unconfigurable attribute"
    assert "number required" in by_path["size"].detail
    assert 'tags["k"]' in by_path
    assert by_path["step"].summary == "Too many step blocks"
    assert "rule[0].rule_idd" in by_path


def test_config_unknowns_pass_through() -> None:
    value = cfg({"name": UNKNOWN, "tags": {"$unknown": True}, "rule": UNKNOWN})
    assert value["name"] is UNKNOWN and value["tags"] is UNKNOWN and value["rule"] is UNKNOWN


# -- ProposedNew ---------------------------------------------------------------------------


def test_proposed_new_for_create_takes_config() -> None:
    config = cfg({"name": "a", "rule": [{"port": 22}]})
    proposed = proposed_new(BLOCK, None, config)
    assert proposed["name"] == "a" and proposed["id"] is None and proposed["size"] is None
    assert proposed["rule"] == [{"port": 22, "cidr": None, "rule_id": None}]
    assert proposed_new(BLOCK, None, None) is None


def test_proposed_new_keeps_computed_values_from_prior() -> None:
    config = cfg(
        {
            "name": "a",
            "tags": {"env": "prod"},
            "disks": [{"label": "root"}, {"label": "data"}],
            "rule": [{"port": 80}, {"port": 443}],
            "step": [{"port": 1}],
            "secret": "shh",
        }
    )
    proposed = proposed_new(BLOCK, prior_state(), config)
    assert proposed["id"] == "i-1"  # computed, unset in config: prior value
    assert proposed["size"] == 10  # optional+computed left unset: prior value
    assert proposed["tags"] == {"env": "prod"}  # configured: config value
    # nested attributes correlate by index; new elements take the config as is
    assert proposed["disks"] == [
        {"label": "root", "serial": "s-1"},
        {"label": "data", "serial": None},
    ]
    # set blocks correlate by non-computed content: port 80 keeps its rule_id
    by_port = {r["port"]: r for r in proposed["rule"]}
    assert by_port[80]["rule_id"] == "r-80"
    assert by_port[443]["rule_id"] is None
    # list blocks correlate by index
    assert proposed["step"] == [{"port": 1, "cidr": None, "rule_id": "x-1"}]


def test_proposed_new_unknown_config_stays_unknown() -> None:
    config = cfg({"name": UNKNOWN, "size": UNKNOWN, "rule": UNKNOWN})
    proposed = proposed_new(BLOCK, prior_state(), config)
    assert proposed["name"] is UNKNOWN and proposed["size"] is UNKNOWN
    assert proposed["rule"] is UNKNOWN


def test_planned_data_source_object_marks_computed_unknown() -> None:
    planned = planned_data_source_object(BLOCK, cfg({"name": "a"}))
    assert planned["name"] == "a" and planned["id"] is UNKNOWN and planned["size"] is UNKNOWN


@settings(max_examples=100)
@given(
    name=st.text(min_size=1, max_size=5),
    size=st.one_of(st.none(), st.integers(0, 100)),
    ports=st.lists(st.integers(1, 1000), unique=True, max_size=4),
)
def test_proposed_new_is_idempotent_against_itself(
    name: str, size: int | None, ports: list[int]
) -> None:
    config = cfg({"name": name, "size": size, "rule": [{"port": p} for p in ports]})
    created = proposed_new(BLOCK, None, config)
    # a provider that fills computed values, then the same config planned again: no change
    for i, r in enumerate(created["rule"]):
        r["rule_id"] = f"r{i}"
    created["id"] = "id"
    created["size"] = size if size is not None else 5
    again = proposed_new(BLOCK, created, config)
    assert values_equal(again, created, BLOCK.implied_type)
    assert plan_problems(BLOCK, created, config, again) == []


# -- plan validity, apply consistency, actions ------------------------------------------


def test_plan_problems_catch_ignored_config() -> None:
    config = cfg({"name": "a"})
    planned = proposed_new(BLOCK, None, config)
    assert plan_problems(BLOCK, None, config, planned) == []
    planned_bad = {**planned, "name": "b", "id": UNKNOWN}
    problems = plan_problems(BLOCK, None, config, planned_bad)
    assert [p.attribute for p in problems] == ["name"]
    planned_unknown = {**planned, "name": UNKNOWN}
    assert plan_problems(BLOCK, None, config, planned_unknown)[0].attribute == "name"
    # secrets never show up in problem details
    config_s = cfg({"name": "a", "secret": "shh"})
    planned_s = {**proposed_new(BLOCK, None, config_s), "secret": "other"}
    (p,) = plan_problems(BLOCK, None, config_s, planned_s)
    assert "shh" not in p.detail and "(sensitive)" in p.detail


def test_compatibility_problems() -> None:
    planned = {**prior_state(), "id": UNKNOWN, "tags": {"env": UNKNOWN, "k": "v"}}
    actual = {**prior_state(), "id": "i-9", "tags": {"env": "x", "k": "v"}}
    assert compatibility_problems(BLOCK, planned, actual) == []
    wrong = {**actual, "tags": {"env": "x", "k": "other"}}
    assert [p.attribute for p in compatibility_problems(BLOCK, planned, wrong)] == ['tags["k"]']
    # set elements are compared without regard to order
    reordered = {**actual, "rule": list(reversed(actual["rule"]))}
    assert compatibility_problems(BLOCK, {**planned, "tags": actual["tags"]}, reordered) == []


def test_replace_paths_only_when_the_value_changes() -> None:
    prior = prior_state()
    planned = {**prior, "name": "b"}
    assert effective_replace_paths(BLOCK, prior, planned, [["name"], ["id"]]) == [["name"]]
    assert effective_replace_paths(BLOCK, prior, {**prior, "id": UNKNOWN}, [["id"]]) == [["id"]]
    assert effective_replace_paths(BLOCK, prior, prior, [["rule"]]) == []


def test_actions() -> None:
    prior = prior_state()
    config = {"x": 1}
    assert decide_action(BLOCK, None, config, prior, []) == ChangeAction.CREATE
    assert decide_action(BLOCK, prior, None, None, []) == ChangeAction.DELETE
    assert decide_action(BLOCK, prior, config, prior, []) == ChangeAction.NO_OP
    assert decide_action(BLOCK, prior, config, {**prior, "size": 11}, []) == ChangeAction.UPDATE
    assert (
        decide_action(BLOCK, prior, config, {**prior, "name": "b"}, [["name"]])
        == ChangeAction.REPLACE
    )
    assert decide_action(BLOCK, None, None, None, []) == ChangeAction.NO_OP


def test_values_equal_numbers_and_sets() -> None:
    assert values_equal(1, 1.0, NUMBER) and values_equal(Decimal("0.5"), 0.5, NUMBER)
    assert not values_equal(Decimal("0.1"), 0.1, NUMBER)  # 0.1 is not exactly a float64
    assert values_equal(["a", "b"], ["b", "a"], SetType(STRING))
    assert not values_equal(["a", "b"], ["b", "a"], ListType(STRING))
    assert not values_equal(UNKNOWN, "a") and values_equal(UNKNOWN, UNKNOWN)


def test_write_only_must_be_null() -> None:
    schema = Schema(version=0, block=BLOCK)
    assert schema.write_only_paths == [("password_wo",)]
    assert write_only_problems(schema.write_only_paths, prior_state()) == []
    (p,) = write_only_problems(schema.write_only_paths, {**prior_state(), "password_wo": "x"})
    assert p.attribute == "password_wo"


# -- diff and redaction -------------------------------------------------------------------


def test_diff_is_attribute_level_and_redacted() -> None:
    prior = prior_state()
    after = {
        **prior,
        "tags": {"env": "prod", "new": "1"},
        "secret": "changed",
        "size": UNKNOWN,
        "rule": [prior["rule"][0], {"port": 443, "cidr": None, "rule_id": None}],
        "disks": [{"label": "root", "serial": "s-2"}],
    }
    changes = {c.attribute: c for c in diff(BLOCK, prior, after, [["tags"]])}
    assert (changes['tags["env"]'].before, changes['tags["env"]'].after) == ("dev", "prod")
    assert changes['tags["env"]'].requires_replace
    assert changes['tags["new"]'].before is None
    assert changes["secret"].sensitive and changes["secret"].after == "(sensitive)"
    assert "changed" not in str(changes["secret"].model_dump())
    assert changes["size"].after_unknown and not changes["size"].requires_replace
    assert changes["disks[0].serial"].after == "s-2"
    rule_changes = [c for c in diff(BLOCK, prior, after) if c.attribute == "rule"]
    assert {(str(c.before), str(c.after)) for c in rule_changes} == {
        ("{'port': 80, 'cidr': None, 'rule_id': 'r-80'}", "None"),
        ("None", "{'port': 443, 'cidr': None, 'rule_id': None}"),
    }
    assert diff(BLOCK, prior, prior) == []


def test_redact() -> None:
    red = redact(BLOCK, prior_state())
    assert red["secret"] == "(sensitive)" and red["name"] == "a"
    assert redact(BLOCK, {**prior_state(), "secret": None})["secret"] is None


def test_dynamic_config_keeps_wire_types() -> None:
    diags: list[Any] = []
    wire = {"value": ["a"], "type": ["list", "string"]}
    assert convert_value(DYNAMIC, wire, [], diags) == Typed(ListType(STRING), ["a"])
    plain = {"value": 1, "type": "not a type"}
    assert convert_value(DYNAMIC, plain, [], diags) == plain
    assert diags == []
