"""cty values in Python, their msgpack wire encoding, and their JSON forms.

In-memory values are plain Python, typed by a ``CtyType`` held next to them:

====================  ===========================================================
cty                   Python
====================  ===========================================================
null                  ``None``
unknown               ``UNKNOWN`` (the only ``Unknown`` instance)
string / bool         ``str`` / ``bool``
number                ``int`` | ``float`` | ``Decimal`` (exact; never rounded)
list / set / tuple    ``list`` (a set keeps the provider's order)
map / object          ``dict`` (objects always carry every attribute)
dynamic               ``Typed(type, value)`` when it came from a provider; plain
                      values in config get their type inferred as Terraform does
====================  ===========================================================

Three encodings:

- **msgpack** (``encode`` / ``decode``): what providers speak. Unknown is msgpack
  extension 0; a dynamically-typed value is ``[type-json, value]``; numbers are int64
  or float64 when exact, else their decimal string (exactly like go-cty).
- **wire JSON** (``to_wire`` / ``from_wire``): JSON-safe values for storage and for
  Temporal payloads. It is cty's JSON (dynamic values as ``{"value":…, "type":…}``)
  plus ``{"$unknown": true}`` for unknown values. With the type, it round-trips
  exactly.
- **user JSON** (``to_user``): for people and AI clients: dynamic wrappers removed,
  unknown rendered as ``"(known after apply)"``. One-way.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation
from typing import Any, Final

import msgpack

from providers.ctytype import (
    BOOL,
    DYNAMIC,
    NUMBER,
    STRING,
    CtyType,
    DynamicType,
    ListType,
    MapType,
    ObjectType,
    PrimitiveType,
    SetType,
    TupleType,
    parse_type,
)
from providers.errors import AttributePath, MapKey, format_path

__all__ = [
    "UNKNOWN",
    "UNKNOWN_DISPLAY",
    "UNKNOWN_WIRE",
    "CodecError",
    "Typed",
    "Unknown",
    "contains_unknown",
    "decode",
    "encode",
    "from_wire",
    "infer_type",
    "is_unknown_wire",
    "parse_number",
    "to_user",
    "to_wire",
]


class Unknown:
    """A value that will only be known after apply (cty's unknown)."""

    _instance: Unknown | None = None
    __slots__ = ()

    def __new__(cls) -> Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"

    def __reduce__(self) -> str:
        return "UNKNOWN"

    def __bool__(self) -> bool:
        # Truthiness of an unknown is itself unknown; make accidental use loud.
        raise TypeError("an unknown value has no truth value")


UNKNOWN: Final = Unknown()
UNKNOWN_DISPLAY: Final = "(known after apply)"
_UNKNOWN_KEY: Final = "$unknown"
UNKNOWN_WIRE: Final = {_UNKNOWN_KEY: True}


def is_unknown_wire(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and value.get(_UNKNOWN_KEY) is True


class Typed:
    """A dynamically-typed value together with its concrete cty type."""

    __slots__ = ("type", "value")

    def __init__(self, type: CtyType, value: Any) -> None:
        self.type = type
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Typed) and other.type == self.type and other.value == self.value

    def __hash__(self) -> int:
        return hash(self.type)

    def __repr__(self) -> str:
        return f"Typed({self.type.friendly_name}, {self.value!r})"


class CodecError(ValueError):
    """A value does not fit its type; ``path`` says where."""

    def __init__(self, message: str, path: AttributePath) -> None:
        self.path = list(path)
        where = format_path(path)
        super().__init__(f"{where}: {message}" if where else message)
        self.reason = message


_INT64_MIN: Final = -(2**63)
_INT64_MAX: Final = 2**63 - 1
_INT_RE: Final = re.compile(r"^[+-]?\d+$")


def parse_number(text: str) -> int | Decimal:
    """A decimal number from text, exactly (ints stay ints)."""
    text = text.strip()
    if _INT_RE.match(text):
        return int(text)
    try:
        d = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{text!r} is not a number") from None
    if not d.is_finite():
        raise ValueError(f"{text!r} is not a finite number")
    return d


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float | Decimal) and not isinstance(v, bool)


def _number_for_msgpack(n: Any, path: AttributePath) -> int | float | str:
    # go-cty: int64 if exact, else float64 if exact, else the decimal string.
    if isinstance(n, str):
        try:
            n = parse_number(n)
        except ValueError as exc:
            raise CodecError(str(exc), path) from None
    if isinstance(n, bool) or not _is_number(n):
        raise CodecError(f"number required, got {type(n).__name__}", path)
    if isinstance(n, int):
        if _INT64_MIN <= n <= _INT64_MAX:
            return n
        f = float(n) if abs(n) < 2**1024 else math.inf
        return f if math.isfinite(f) and int(f) == n else str(n)
    if isinstance(n, float):
        if math.isnan(n):
            raise CodecError("NaN is not a valid number", path)
        if n.is_integer() and _INT64_MIN <= n <= _INT64_MAX:
            return int(n)
        return n
    # Decimal
    if n.is_nan():
        raise CodecError("NaN is not a valid number", path)
    if n.is_infinite():
        return math.inf if n > 0 else -math.inf
    if n == n.to_integral_value():
        return _number_for_msgpack(int(n), path)
    f = float(n)
    if math.isfinite(f) and Decimal(f) == n:
        return f
    return format(n, "f")


def _number_for_json(n: Any) -> int | float | str:
    if isinstance(n, int):
        return n
    if isinstance(n, float):
        return n if math.isfinite(n) else ("Infinity" if n > 0 else "-Infinity")
    if isinstance(n, Decimal):
        if n == n.to_integral_value():
            return int(n)
        f = float(n)
        if math.isfinite(f) and Decimal(f) == n:
            return f
        return format(n, "f")
    raise TypeError(f"not a number: {n!r}")


def _number_from_any(v: Any, path: AttributePath) -> int | float | Decimal:
    if isinstance(v, bool):
        raise CodecError("number required, got bool", path)
    if isinstance(v, int | float | Decimal):
        return v
    if isinstance(v, str):
        if v in ("Infinity", "+Infinity", "-Infinity"):
            return math.inf if not v.startswith("-") else -math.inf
        try:
            return parse_number(v)
        except ValueError as exc:
            raise CodecError(str(exc), path) from None
    raise CodecError(f"number required, got {type(v).__name__}", path)


# ------------------------------------------------------------------------------------
# Type inference for dynamically-typed values
# ------------------------------------------------------------------------------------


def infer_type(value: Any) -> CtyType:
    """The cty type Terraform would give a JSON-ish value (lists are tuples, dicts are
    objects); null and unknown are dynamic."""
    if value is None or value is UNKNOWN:
        return DYNAMIC
    if isinstance(value, Typed):
        return value.type
    if isinstance(value, bool):
        return BOOL
    if _is_number(value):
        return NUMBER
    if isinstance(value, str):
        return STRING
    if isinstance(value, list | tuple):
        return TupleType([infer_type(v) for v in value])
    if isinstance(value, dict):
        if is_unknown_wire(value):
            return DYNAMIC
        return ObjectType({str(k): infer_type(v) for k, v in value.items()})
    raise TypeError(f"cannot infer a cty type for {type(value).__name__}")


def contains_unknown(value: Any) -> bool:
    if value is UNKNOWN:
        return True
    if isinstance(value, Typed):
        return contains_unknown(value.value)
    if isinstance(value, list | tuple):
        return any(contains_unknown(v) for v in value)
    if isinstance(value, dict):
        return any(contains_unknown(v) for v in value.values())
    return False


# ------------------------------------------------------------------------------------
# One walk over a type, four forms at its leaves
# ------------------------------------------------------------------------------------


class _Form:
    """How one encoding treats nulls' neighbours: unknowns, dynamic values, primitives and
    map keys. ``_walk`` does the rest (collections, objects, paths), the same for all."""

    # What a list/set/tuple may arrive as.
    sequences: tuple[type[list[Any]] | type[tuple[Any, ...]], ...] = (list,)
    verb = "expected"  # "string expected" / "string required", for errors
    wire_unknowns = False  # whether {"$unknown": true} arrives for unknowns

    def unknown(self) -> Any:
        """What an unknown becomes in this form."""
        return UNKNOWN

    def dynamic(self, v: Any, path: AttributePath) -> Any:
        raise NotImplementedError

    def typed(self, v: Typed, ty: CtyType, path: AttributePath) -> Any:
        # A concretely typed value where the schema knows the type: use the value.
        return _walk(v.value, ty, path, self)

    def string(self, v: Any, path: AttributePath) -> Any:
        if not isinstance(v, str):
            raise CodecError(f"string {self.verb}, got {type(v).__name__}", path)
        return v

    def number(self, v: Any, path: AttributePath) -> Any:
        return _number_from_any(v, path)

    def boolean(self, v: Any, path: AttributePath) -> Any:
        if not isinstance(v, bool):
            raise CodecError(f"bool {self.verb}, got {type(v).__name__}", path)
        return v

    def key(self, k: Any) -> str:
        return str(k)

    def items(self, v: dict[Any, Any]) -> Any:
        return v.items()

    def check_attributes(self, v: dict[str, Any], ty: ObjectType, path: AttributePath) -> None:
        """Attributes the type does not have: ignored unless the form refuses them."""


def _walk(v: Any, ty: CtyType, path: AttributePath, form: _Form) -> Any:
    if v is UNKNOWN or (form.wire_unknowns and is_unknown_wire(v)):
        return form.unknown()
    if v is None:
        return None
    if isinstance(ty, DynamicType):
        return form.dynamic(v, path)
    if isinstance(v, Typed):
        return form.typed(v, ty, path)
    if isinstance(ty, PrimitiveType):
        # Names, not ``ty == STRING``: this runs for every leaf of every value.
        name = ty.name
        if name == "string":
            return form.string(v, path)
        if name == "number":
            return form.number(v, path)
        if name == "bool":
            return form.boolean(v, path)
    if isinstance(ty, ListType | SetType):
        if not isinstance(v, form.sequences):
            raise CodecError(f"{ty.kind} {form.verb}, got {type(v).__name__}", path)
        element = ty.element
        return [_walk(e, element, [*path, i], form) for i, e in enumerate(v)]
    if isinstance(ty, TupleType):
        if not isinstance(v, form.sequences) or len(v) != len(ty.elements):
            raise CodecError(f"tuple of {len(ty.elements)} elements {form.verb}", path)
        return [
            _walk(e, t, [*path, i], form)
            for i, (e, t) in enumerate(zip(v, ty.elements, strict=True))
        ]
    if isinstance(ty, MapType):
        if not isinstance(v, dict):
            raise CodecError(f"map {form.verb}, got {type(v).__name__}", path)
        element = ty.element
        out = {}
        for k, e in form.items(v):
            key = form.key(k)
            out[key] = _walk(e, element, [*path, MapKey(key)], form)
        return out
    if isinstance(ty, ObjectType):
        if not isinstance(v, dict):
            raise CodecError(f"object {form.verb}, got {type(v).__name__}", path)
        form.check_attributes(v, ty, path)
        # Every attribute is present, absent ones as null.
        return {
            name: _walk(v.get(name), aty, [*path, name], form)
            for name, aty in ty.attributes.items()
        }
    raise CodecError(f"unsupported type {ty!r}", path)


# -- msgpack ----------------------------------------------------------------------------

_UNKNOWN_EXT: Final = msgpack.ExtType(0, b"\x00")


class _ToMsgpack(_Form):
    sequences = (list, tuple)
    verb = "required"

    def unknown(self) -> Any:
        return _UNKNOWN_EXT

    def dynamic(self, v: Any, path: AttributePath) -> Any:
        concrete = infer_type(v)
        if isinstance(concrete, DynamicType):
            return self.unknown()  # only an unknown has no concrete type
        inner = v.value if isinstance(v, Typed) else v
        return [concrete.to_json_bytes(), _walk(inner, concrete, path, self)]

    def number(self, v: Any, path: AttributePath) -> Any:
        return _number_for_msgpack(v, path)

    def items(self, v: dict[Any, Any]) -> Any:
        return sorted(v.items())

    def check_attributes(self, v: dict[str, Any], ty: ObjectType, path: AttributePath) -> None:
        extra = set(v) - set(ty.attributes)
        if extra:
            raise CodecError(f"unexpected attribute(s) {', '.join(sorted(extra))}", path)


class _FromMsgpack(_Form):
    def dynamic(self, v: Any, path: AttributePath) -> Any:
        if not isinstance(v, list) or len(v) != 2:
            raise CodecError("dynamic value must be [type, value]", path)
        concrete = parse_type(v[0])
        return Typed(concrete, _walk(v[1], concrete, path, self))

    def string(self, v: Any, path: AttributePath) -> Any:
        if isinstance(v, str):
            return v
        if isinstance(v, bytes):
            return v.decode()
        raise CodecError(f"string {self.verb}, got {type(v).__name__}", path)

    def key(self, k: Any) -> str:
        return k.decode() if isinstance(k, bytes) else str(k)


_TO_MSGPACK: Final = _ToMsgpack()
_FROM_MSGPACK: Final = _FromMsgpack()


def encode(value: Any, ty: CtyType) -> bytes:
    """msgpack bytes of ``value`` as type ``ty`` (go-cty's encoding)."""
    packed: bytes = msgpack.packb(_walk(value, ty, [], _TO_MSGPACK), use_bin_type=True)
    return packed


def _ext_hook(code: int, data: bytes) -> Any:
    # Extension 0 is an unknown value; newer go-cty sends refined unknowns as another
    # extension code. Refinements (e.g. "not null") are advisory: keep plain unknown.
    return UNKNOWN


def decode(data: bytes, ty: CtyType) -> Any:
    """The Python value of msgpack ``data`` of type ``ty``."""
    if not data:
        return None
    raw = msgpack.unpackb(data, raw=False, ext_hook=_ext_hook, strict_map_key=False)
    return _walk(raw, ty, [], _FROM_MSGPACK)


# -- wire JSON (JSON-safe, exact given the type) -----------------------------------------


class _ToWire(_Form):
    sequences = (list, tuple)
    verb = "required"

    def unknown(self) -> Any:
        return dict(UNKNOWN_WIRE)

    def dynamic(self, v: Any, path: AttributePath) -> Any:
        concrete = infer_type(v)
        if isinstance(concrete, DynamicType):
            return self.unknown()
        inner = v.value if isinstance(v, Typed) else v
        return {"value": _walk(inner, concrete, path, self), "type": concrete.to_json()}

    def string(self, v: Any, path: AttributePath) -> Any:
        return v

    def number(self, v: Any, path: AttributePath) -> Any:
        return _number_for_json(_number_from_any(v, path))

    def boolean(self, v: Any, path: AttributePath) -> Any:
        return v


class _FromWire(_Form):
    wire_unknowns = True

    def dynamic(self, v: Any, path: AttributePath) -> Any:
        if isinstance(v, dict) and set(v) == {"value", "type"}:
            concrete = parse_type(v["type"])
            return Typed(concrete, _walk(v["value"], concrete, path, self))
        return v  # already typed, or a plain value from config (typed when encoding)

    def typed(self, v: Typed, ty: CtyType, path: AttributePath) -> Any:
        return v  # already decoded


_TO_WIRE: Final = _ToWire()
_FROM_WIRE: Final = _FromWire()


def to_wire(value: Any, ty: CtyType) -> Any:
    """JSON-safe form of a value: cty JSON + ``{"$unknown": true}`` for unknowns."""
    return _walk(value, ty, [], _TO_WIRE)


def from_wire(value: Any, ty: CtyType) -> Any:
    """Inverse of ``to_wire`` (also accepts numbers given as strings, as cty JSON does)."""
    return _walk(value, ty, [], _FROM_WIRE)


# ------------------------------------------------------------------------------------
# user JSON (display only)
# ------------------------------------------------------------------------------------


def to_user(value: Any, unknown: Any = UNKNOWN_DISPLAY) -> Any:
    """A value as people read it: plain JSON, unknowns shown as ``unknown``."""
    if value is UNKNOWN or is_unknown_wire(value):
        return unknown
    if isinstance(value, Typed):
        return to_user(value.value, unknown)
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if _is_number(value):
        return _number_for_json(value)
    if isinstance(value, list | tuple):
        return [to_user(v, unknown) for v in value]
    if isinstance(value, dict):
        return {str(k): to_user(v, unknown) for k, v in value.items()}
    raise TypeError(f"not a cty value: {type(value).__name__}")
