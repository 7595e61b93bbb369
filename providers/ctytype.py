"""cty types: the type system of Terraform values, parsed from its JSON encoding.

Providers describe every attribute's type in cty's JSON type notation
(``"string"``, ``["list","string"]``, ``["object",{"a":"number"},["a"]]``,
``"dynamic"`` …). The msgpack codec and the planner are driven by these types.
Types are immutable and hashable so they can key caches and be shared freely.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

__all__ = [
    "BOOL",
    "DYNAMIC",
    "NUMBER",
    "STRING",
    "CtyType",
    "DynamicType",
    "ListType",
    "MapType",
    "ObjectType",
    "PrimitiveType",
    "SetType",
    "TupleType",
    "parse_type",
]


class CtyType:
    """Base of all cty types."""

    __slots__ = ()

    def to_json(self) -> Any:
        raise NotImplementedError

    def to_json_bytes(self) -> bytes:
        return json.dumps(self.to_json(), separators=(",", ":"), sort_keys=True).encode()

    @property
    def friendly_name(self) -> str:
        raise NotImplementedError

    @property
    def is_collection(self) -> bool:
        return isinstance(self, ListType | SetType | MapType)

    def has_dynamic(self) -> bool:
        """True if a dynamically-typed value can appear anywhere inside this type."""
        return False

    def __repr__(self) -> str:
        return f"cty({self.friendly_name})"


class PrimitiveType(CtyType):
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def to_json(self) -> Any:
        return self.name

    @property
    def friendly_name(self) -> str:
        return self.name

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PrimitiveType) and other.name == self.name

    def __hash__(self) -> int:
        return hash(("primitive", self.name))


class DynamicType(CtyType):
    """cty.DynamicPseudoType: the value carries its own type on the wire."""

    __slots__ = ()

    def to_json(self) -> Any:
        return "dynamic"

    @property
    def friendly_name(self) -> str:
        return "dynamic"

    def has_dynamic(self) -> bool:
        return True

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DynamicType)

    def __hash__(self) -> int:
        return hash("dynamic")


class _CollectionType(CtyType):
    __slots__ = ("element",)
    kind: str = ""

    def __init__(self, element: CtyType) -> None:
        self.element = element

    def to_json(self) -> Any:
        return [self.kind, self.element.to_json()]

    @property
    def friendly_name(self) -> str:
        return f"{self.kind}({self.element.friendly_name})"

    def has_dynamic(self) -> bool:
        return self.element.has_dynamic()

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.element == self.element

    def __hash__(self) -> int:
        return hash((self.kind, self.element))


class ListType(_CollectionType):
    __slots__ = ()
    kind = "list"


class SetType(_CollectionType):
    __slots__ = ()
    kind = "set"


class MapType(_CollectionType):
    __slots__ = ()
    kind = "map"


class ObjectType(CtyType):
    """An object type. ``optional`` names attributes that may be omitted in config
    (type constraints only; on the wire every attribute is always present)."""

    __slots__ = ("_hash", "attributes", "optional")

    def __init__(
        self, attributes: Mapping[str, CtyType], optional: frozenset[str] = frozenset()
    ) -> None:
        self.attributes: dict[str, CtyType] = dict(sorted(attributes.items()))
        self.optional = frozenset(optional)
        self._hash = hash(("object", tuple(self.attributes.items()), self.optional))

    def to_json(self) -> Any:
        attrs = {k: t.to_json() for k, t in self.attributes.items()}
        if self.optional:
            return ["object", attrs, sorted(self.optional)]
        return ["object", attrs]

    @property
    def friendly_name(self) -> str:
        inner = ", ".join(f"{k}={t.friendly_name}" for k, t in self.attributes.items())
        return f"object({{{inner}}})"

    def has_dynamic(self) -> bool:
        return any(t.has_dynamic() for t in self.attributes.values())

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, ObjectType)
            and other._hash == self._hash
            and other.attributes == self.attributes
            and other.optional == self.optional
        )

    def __hash__(self) -> int:
        return self._hash


class TupleType(CtyType):
    __slots__ = ("elements",)

    def __init__(self, elements: tuple[CtyType, ...] | list[CtyType]) -> None:
        self.elements = tuple(elements)

    def to_json(self) -> Any:
        return ["tuple", [t.to_json() for t in self.elements]]

    @property
    def friendly_name(self) -> str:
        return f"tuple([{', '.join(t.friendly_name for t in self.elements)}])"

    def has_dynamic(self) -> bool:
        return any(t.has_dynamic() for t in self.elements)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TupleType) and other.elements == self.elements

    def __hash__(self) -> int:
        return hash(("tuple", self.elements))


STRING: Final = PrimitiveType("string")
NUMBER: Final = PrimitiveType("number")
BOOL: Final = PrimitiveType("bool")
DYNAMIC: Final = DynamicType()

_PRIMITIVES: Final[dict[str, CtyType]] = {
    "string": STRING,
    "number": NUMBER,
    "bool": BOOL,
    "dynamic": DYNAMIC,
}


def parse_type(spec: Any) -> CtyType:
    """Parse cty's JSON type notation (already decoded, or as raw bytes/str)."""
    if isinstance(spec, bytes | bytearray | memoryview):
        spec = json.loads(bytes(spec))
    elif isinstance(spec, str) and spec not in _PRIMITIVES:
        spec = json.loads(spec)
    return _parse(spec)


def _parse(spec: Any) -> CtyType:
    if isinstance(spec, str):
        try:
            return _PRIMITIVES[spec]
        except KeyError:
            raise ValueError(f"unknown cty primitive type {spec!r}") from None
    if not isinstance(spec, list) or not spec:
        raise ValueError(f"invalid cty type {spec!r}")
    kind = spec[0]
    if kind in ("list", "set", "map") and len(spec) == 2:
        element = _parse(spec[1])
        return {"list": ListType, "set": SetType, "map": MapType}[kind](element)
    if kind == "object" and len(spec) in (2, 3) and isinstance(spec[1], dict):
        attrs = {str(k): _parse(v) for k, v in spec[1].items()}
        optional = frozenset(spec[2]) if len(spec) == 3 else frozenset()
        return ObjectType(attrs, optional)
    if kind == "tuple" and len(spec) == 2 and isinstance(spec[1], list):
        return TupleType([_parse(t) for t in spec[1]])
    raise ValueError(f"invalid cty type {spec!r}")
