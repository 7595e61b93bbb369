"""The cty msgpack codec and the JSON forms: exact bytes, and round trips."""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from providers.codec import (
    UNKNOWN,
    UNKNOWN_DISPLAY,
    CodecError,
    Typed,
    decode,
    encode,
    from_wire,
    infer_type,
    to_user,
    to_wire,
)
from providers.ctytype import (
    BOOL,
    DYNAMIC,
    NUMBER,
    STRING,
    CtyType,
    ListType,
    MapType,
    ObjectType,
    SetType,
    TupleType,
    parse_type,
)
from providers.plan import values_equal
from providers.schema import Attribute, Block, NestedBlock, NestedType

# -- exact encodings (what go-cty produces) ---------------------------------------------


def test_known_encodings() -> None:
    obj = ObjectType({"b": STRING, "a": NUMBER})
    # every attribute present, sorted, nulls as nil
    assert encode({"a": 1}, obj) == b"\x82\xa1a\x01\xa1b\xc0"
    # unknown is extension 0 (fixext1 with a zero byte)
    assert encode(UNKNOWN, STRING) == b"\xd4\x00\x00"
    # dynamic: [type JSON as bin, value]
    assert encode("x", DYNAMIC) == b'\x92\xc4\x08"string"\xa1x'
    assert encode(None, DYNAMIC) == b"\xc0"
    assert encode(UNKNOWN, DYNAMIC) == b"\xd4\x00\x00"


@pytest.mark.parametrize(
    ("value", "packed"),
    [
        (5, 5),
        (-(2**63), -(2**63)),
        (2**63 - 1, 2**63 - 1),
        (2**64, float(2**64)),  # not int64, exact as float64
        (2**64 + 1, str(2**64 + 1)),  # neither: the decimal string
        (1.5, 1.5),
        (3.0, 3),  # integral floats are ints, as in cty
        (Decimal("0.1"), "0.1"),  # not exactly float64: keep the decimal text
        (Decimal("0.5"), 0.5),
        (Decimal("12345678901234567890.000000000001"), "12345678901234567890.000000000001"),
        ("42", 42),  # numeric strings are numbers
        (math.inf, math.inf),
    ],
)
def test_number_encoding(value: Any, packed: Any) -> None:
    raw = msgpack.unpackb(encode(value, NUMBER))
    assert raw == packed and type(raw) is type(packed)


def test_numbers_decode_exactly() -> None:
    assert decode(msgpack.packb("12345678901234567890.000000000001"), NUMBER) == Decimal(
        "12345678901234567890.000000000001"
    )
    assert decode(msgpack.packb("123456789012345678901234567890"), NUMBER) == (
        123456789012345678901234567890
    )
    assert decode(msgpack.packb(0.1), NUMBER) == 0.1


def test_refined_unknown_decodes_as_unknown() -> None:
    # newer go-cty sends refined unknowns as another extension code
    data = msgpack.packb(msgpack.ExtType(12, msgpack.packb({1: True})))
    assert decode(data, STRING) is UNKNOWN


def test_type_errors_carry_the_path() -> None:
    ty = ObjectType({"tags": MapType(STRING), "n": NUMBER})
    with pytest.raises(CodecError) as info:
        encode({"tags": {"env": 5}}, ty)
    assert info.value.path == ["tags", "env"] and str(info.value).startswith('tags["env"]')
    with pytest.raises(CodecError, match="unexpected attribute"):
        encode({"x": 1}, ty)
    with pytest.raises(CodecError):
        encode({"n": "abc"}, ty)


def test_type_json_roundtrip() -> None:
    spec = ["object", {"a": ["list", "string"], "b": ["tuple", ["bool", "dynamic"]]}, ["b"]]
    ty = parse_type(json.dumps(spec).encode())
    assert isinstance(ty, ObjectType) and ty.optional == {"b"}
    assert parse_type(ty.to_json()) == ty
    assert ty.friendly_name == "object({a=list(string), b=tuple([bool, dynamic])})"
    with pytest.raises(ValueError):
        parse_type(["bogus", "string"])


def test_wire_and_user_forms() -> None:
    ty = ObjectType({"d": DYNAMIC, "n": NUMBER, "u": STRING})
    value = {"d": Typed(ListType(STRING), ["a"]), "n": Decimal("0.1"), "u": UNKNOWN}
    wire = to_wire(value, ty)
    assert wire == {
        "d": {"value": ["a"], "type": ["list", "string"]},
        "n": "0.1",
        "u": {"$unknown": True},
    }
    json.dumps(wire)
    assert from_wire(wire, ty) == {
        "d": Typed(ListType(STRING), ["a"]),
        "n": Decimal("0.1"),
        "u": UNKNOWN,
    }
    assert to_user(value) == {"d": ["a"], "n": "0.1", "u": UNKNOWN_DISPLAY}


def test_unknown_has_no_truth_value() -> None:
    with pytest.raises(TypeError):
        bool(UNKNOWN)


def test_inferred_types_for_dynamic_config() -> None:
    assert infer_type({"a": [1, "x"]}) == ObjectType({"a": TupleType([NUMBER, STRING])})
    raw = msgpack.unpackb(encode({"a": True}, DYNAMIC))
    assert json.loads(raw[0]) == ["object", {"a": "bool"}]


# -- property tests over generated types and values -------------------------------------

_names = st.text(alphabet="abcdefghij_", min_size=1, max_size=6)
_strings = st.text(max_size=8)
_numbers = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.decimals(allow_nan=False, allow_infinity=False, places=6),
)


def _types() -> st.SearchStrategy[CtyType]:
    leaves = st.sampled_from([STRING, NUMBER, BOOL, DYNAMIC])
    return st.recursive(
        leaves,
        lambda inner: st.one_of(
            inner.map(ListType),
            inner.map(SetType),
            inner.map(MapType),
            st.dictionaries(_names, inner, max_size=4).map(ObjectType),
            st.lists(inner, max_size=3).map(TupleType),
        ),
        max_leaves=8,
    )


def _values(ty: CtyType, depth: int = 0) -> st.SearchStrategy[Any]:
    def with_null(s: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        return st.one_of(st.just(None), st.just(UNKNOWN), s) if depth else s

    if ty == STRING:
        return with_null(_strings)
    if ty == NUMBER:
        return with_null(_numbers)
    if ty == BOOL:
        return with_null(st.booleans())
    if ty == DYNAMIC:
        return with_null(
            _types()
            .filter(lambda t: t != DYNAMIC)
            .flatmap(lambda t: _values(t, depth + 1).map(lambda v: Typed(t, v)))
        )
    if isinstance(ty, ListType | SetType):
        return with_null(st.lists(_values(ty.element, depth + 1), max_size=3))
    if isinstance(ty, MapType):
        return with_null(st.dictionaries(_names, _values(ty.element, depth + 1), max_size=3))
    if isinstance(ty, TupleType):
        return with_null(st.tuples(*(_values(t, depth + 1) for t in ty.elements)).map(list))
    assert isinstance(ty, ObjectType)
    return with_null(
        st.fixed_dictionaries({k: _values(t, depth + 1) for k, t in ty.attributes.items()})
    )


def _same(a: Any, b: Any, ty: CtyType) -> bool:
    # Typed values must keep their exact type; numbers compare by value.
    if isinstance(a, Typed) or isinstance(b, Typed):
        return (
            isinstance(a, Typed)
            and isinstance(b, Typed)
            and a.type == b.type
            and _same(a.value, b.value, a.type)
        )
    if isinstance(a, list) and isinstance(b, list):
        ety: list[CtyType]
        if isinstance(ty, TupleType):
            ety = list(ty.elements)
        elif isinstance(ty, ListType | SetType):
            ety = [ty.element] * len(a)
        else:
            ety = [DYNAMIC] * len(a)
        return len(a) == len(b) and all(_same(x, y, t) for x, y, t in zip(a, b, ety, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):

        def sub(k: str) -> CtyType:
            if isinstance(ty, ObjectType):
                return ty.attributes[k]
            return ty.element if isinstance(ty, MapType) else DYNAMIC

        return a.keys() == b.keys() and all(_same(a[k], b[k], sub(k)) for k in a)
    return values_equal(a, b, ty)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_msgpack_roundtrip(data: st.DataObject) -> None:
    ty = data.draw(_types())
    value = data.draw(_values(ty))
    assert _same(decode(encode(value, ty), ty), value, ty)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_wire_json_roundtrip(data: st.DataObject) -> None:
    ty = data.draw(_types())
    value = data.draw(_values(ty))
    wire = json.loads(json.dumps(to_wire(value, ty)))  # must be plain JSON
    back = from_wire(wire, ty)
    assert _same(back, value, ty)
    # and the msgpack of both is identical: wire JSON loses nothing providers see
    assert encode(back, ty) == encode(value, ty)


# -- schema-driven: generated blocks (nesting modes, nested attribute types) ------------


def _attributes() -> st.SearchStrategy[dict[str, Attribute]]:
    leaf = st.builds(
        lambda name, ty, computed: Attribute(name=name, type=ty, optional=True, computed=computed),
        _names,
        st.sampled_from([STRING, NUMBER, BOOL, ListType(STRING), MapType(NUMBER), SetType(STRING)]),
        st.booleans(),
    )
    nested = st.builds(
        lambda name, inner, nesting: Attribute(
            name=name,
            nested_type=NestedType(attributes={a.name: a for a in inner}, nesting=nesting),
            optional=True,
        ),
        _names,
        st.lists(leaf, min_size=1, max_size=3),
        st.sampled_from(["single", "list", "set", "map"]),
    )
    return st.lists(st.one_of(leaf, nested), max_size=4).map(lambda xs: {a.name: a for a in xs})


def _blocks(depth: int = 0) -> st.SearchStrategy[Block]:
    children: st.SearchStrategy[dict[str, NestedBlock]] = st.just({})
    if depth < 2:
        children = st.lists(
            st.builds(
                lambda name, block, nesting: NestedBlock(
                    type_name=name, block=block, nesting=nesting
                ),
                _names.map(lambda n: "b_" + n),
                st.deferred(lambda: _blocks(depth + 1)),
                st.sampled_from(["single", "group", "list", "set", "map"]),
            ),
            max_size=2,
        ).map(lambda xs: {b.type_name: b for b in xs})
    return st.builds(
        lambda attrs, blocks: Block(attributes=attrs, block_types=blocks), _attributes(), children
    )


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_block_values_roundtrip(data: st.DataObject) -> None:
    block = data.draw(_blocks())
    ty = block.implied_type
    value = data.draw(_values(ty, depth=1).filter(lambda v: v is not None and v is not UNKNOWN))
    assert _same(decode(encode(value, ty), ty), value, ty)
    assert _same(from_wire(json.loads(json.dumps(to_wire(value, ty))), ty), value, ty)
