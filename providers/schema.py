"""Provider schemas: typed models, the on-disk cache and compact per-type descriptions.

A provider's full schema is big (hashicorp/aws: ~4.9 MB protobuf, ~2,100 resource and
data source types) and costs seconds to fetch, so it is fetched once per binary and
cached on disk under ``<schema cache>/<sha256>/`` (``Settings.resolved_schema_dir``, per
machine: content-addressed by the binary's digest):

- ``index.json``   - provider config schema, capabilities, and per type name the
                     (offset, length, version) of its schema inside ``types.json``;
- ``types.json``   - every type's schema as one JSON document after another.

Opening a cached schema reads only the small index; a type's schema is parsed the
first time somebody asks for it (``ProviderSchema.resource("aws_s3_bucket")``).
"""

from __future__ import annotations

import contextlib
import difflib
import json
import logging
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from providers.ctytype import DYNAMIC, CtyType, ListType, MapType, ObjectType, SetType, parse_type
from providers.errors import Diagnostic, ProviderError

__all__ = [
    "Attribute",
    "AttributeDescription",
    "Block",
    "BlockDescription",
    "NestedBlock",
    "NestedType",
    "ProviderSchema",
    "ResourceTypeDescription",
    "Schema",
    "SchemaCache",
    "ServerCapabilities",
    "UnknownTypeError",
]

log = logging.getLogger(__name__)

CACHE_FORMAT = 1
NestingMode = Literal["single", "list", "set", "map", "group"]
TypeKind = Literal["resource", "data_source"]

_TYPE_NAME = re.compile(r"^[A-Za-z0-9_\-]{1,200}$")
_BLOCK_NESTING = {1: "single", 2: "list", 3: "set", 4: "map", 5: "group"}
_OBJECT_NESTING = {1: "single", 2: "list", 3: "set", 4: "map"}


# ------------------------------------------------------------------------------------
# Typed schema models (internal: plain frozen dataclasses, cheap to build per type)
# ------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Attribute:
    name: str
    type: CtyType | None = None
    nested_type: NestedType | None = None
    description: str = ""
    description_kind: str = "plain"
    required: bool = False
    optional: bool = False
    computed: bool = False
    sensitive: bool = False
    deprecated: bool = False
    write_only: bool = False

    @property
    def value_type(self) -> CtyType:
        if self.nested_type is not None:
            return self.nested_type.implied_type
        assert self.type is not None, f"attribute {self.name} has neither type nor nested_type"
        return self.type

    @property
    def configurable(self) -> bool:
        return self.required or self.optional


@dataclass(frozen=True, eq=False)
class NestedType:
    """Protocol 6 nested attributes: an attribute whose value is object(s)."""

    attributes: dict[str, Attribute]
    nesting: NestingMode
    object_type: ObjectType = field(init=False)
    implied_type: CtyType = field(init=False)

    def __post_init__(self) -> None:
        obj = ObjectType({n: a.value_type for n, a in self.attributes.items()})
        object.__setattr__(self, "object_type", obj)
        object.__setattr__(self, "implied_type", _collection_of(obj, self.nesting))


@dataclass(frozen=True, eq=False)
class Block:
    attributes: dict[str, Attribute] = field(default_factory=dict)
    block_types: dict[str, NestedBlock] = field(default_factory=dict)
    description: str = ""
    description_kind: str = "plain"
    deprecated: bool = False
    implied_type: ObjectType = field(init=False)

    def __post_init__(self) -> None:
        types: dict[str, CtyType] = {n: a.value_type for n, a in self.attributes.items()}
        types.update({n: b.implied_type for n, b in self.block_types.items()})
        object.__setattr__(self, "implied_type", ObjectType(types))

    def attribute_paths(
        self, predicate: Any, prefix: tuple[str | int, ...] = ()
    ) -> Iterator[tuple[str | int, ...]]:
        """Schema paths of attributes matching ``predicate``; ``"*"`` stands for any
        element of a list/set/map (of blocks or of nested attribute objects)."""
        for name, attr in self.attributes.items():
            path = (*prefix, name)
            if predicate(attr):
                yield path
            if attr.nested_type is not None:
                yield from _nested_attribute_paths(attr.nested_type, predicate, path)
        for name, nb in self.block_types.items():
            inner = (*prefix, name) if nb.nesting in ("single", "group") else (*prefix, name, "*")
            yield from nb.block.attribute_paths(predicate, inner)


def _nested_attribute_paths(
    nt: NestedType, predicate: Any, prefix: tuple[str | int, ...]
) -> Iterator[tuple[str | int, ...]]:
    base = prefix if nt.nesting == "single" else (*prefix, "*")
    for name, attr in nt.attributes.items():
        path = (*base, name)
        if predicate(attr):
            yield path
        if attr.nested_type is not None:
            yield from _nested_attribute_paths(attr.nested_type, predicate, path)


@dataclass(frozen=True, eq=False)
class NestedBlock:
    type_name: str
    block: Block
    nesting: NestingMode
    min_items: int = 0
    max_items: int = 0

    @property
    def implied_type(self) -> CtyType:
        return _collection_of(self.block.implied_type, self.nesting)


def _collection_of(obj: ObjectType, nesting: str) -> CtyType:
    # Lists and maps of objects that contain dynamically-typed attributes cannot be
    # homogeneous collections, so (as in Terraform) their implied type is dynamic.
    if nesting in ("single", "group"):
        return obj
    if nesting == "list":
        return DYNAMIC if obj.has_dynamic() else ListType(obj)
    if nesting == "set":
        return SetType(obj)
    if nesting == "map":
        return DYNAMIC if obj.has_dynamic() else MapType(obj)
    raise ValueError(f"unsupported nesting mode {nesting!r}")


@dataclass(frozen=True, eq=False)
class Schema:
    """One resource type's, data source's or the provider's own config schema."""

    version: int
    block: Block

    @property
    def implied_type(self) -> ObjectType:
        return self.block.implied_type

    @cached_property
    def sensitive_paths(self) -> list[tuple[str | int, ...]]:
        """Where sensitive values live (``"*"``: any element), for redaction."""
        return list(self.block.attribute_paths(lambda a: a.sensitive))

    @cached_property
    def write_only_paths(self) -> list[tuple[str | int, ...]]:
        return list(self.block.attribute_paths(lambda a: a.write_only))


@dataclass(frozen=True)
class ServerCapabilities:
    plan_destroy: bool = False
    get_provider_schema_optional: bool = False
    move_resource_state: bool = False


# ------------------------------------------------------------------------------------
# JSON form (what the cache stores) <-> models
# ------------------------------------------------------------------------------------


def _attr_from_json(d: dict[str, Any]) -> Attribute:
    nested = d.get("nested_type")
    return Attribute(
        name=d["name"],
        type=parse_type(d["type"]) if "type" in d else None,
        nested_type=_nested_type_from_json(nested) if nested else None,
        description=d.get("description", ""),
        description_kind=d.get("description_kind", "plain"),
        required=d.get("required", False),
        optional=d.get("optional", False),
        computed=d.get("computed", False),
        sensitive=d.get("sensitive", False),
        deprecated=d.get("deprecated", False),
        write_only=d.get("write_only", False),
    )


def _nested_type_from_json(d: dict[str, Any]) -> NestedType:
    attrs = [_attr_from_json(a) for a in d.get("attributes", [])]
    return NestedType(attributes={a.name: a for a in attrs}, nesting=d["nesting"])


def _block_from_json(d: dict[str, Any]) -> Block:
    attrs = [_attr_from_json(a) for a in d.get("attributes", [])]
    blocks = [
        NestedBlock(
            type_name=b["type_name"],
            block=_block_from_json(b.get("block", {})),
            nesting=b["nesting"],
            min_items=b.get("min_items", 0),
            max_items=b.get("max_items", 0),
        )
        for b in d.get("block_types", [])
    ]
    return Block(
        attributes={a.name: a for a in attrs},
        block_types={b.type_name: b for b in blocks},
        description=d.get("description", ""),
        description_kind=d.get("description_kind", "plain"),
        deprecated=d.get("deprecated", False),
    )


def schema_from_json(d: dict[str, Any]) -> Schema:
    return Schema(version=int(d.get("version", 0)), block=_block_from_json(d.get("block", {})))


def _kind(v: int) -> str:
    return "markdown" if v == 1 else "plain"


def _attr_to_json(a: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"name": a.name}
    # Only protocol 6 has nested attribute types; on protocol 5 the field is absent.
    if "nested_type" in a.DESCRIPTOR.fields_by_name and a.HasField("nested_type"):
        nt = a.nested_type
        out["nested_type"] = {
            "nesting": _OBJECT_NESTING.get(nt.nesting, "single"),
            "attributes": [_attr_to_json(x) for x in nt.attributes],
        }
    else:
        out["type"] = json.loads(a.type)
    if a.description:
        out["description"] = a.description
        if a.description_kind:
            out["description_kind"] = _kind(a.description_kind)
    for flag in ("required", "optional", "computed", "sensitive", "deprecated", "write_only"):
        if getattr(a, flag, False):
            out[flag] = True
    return out


def _block_to_json(b: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if b.attributes:
        out["attributes"] = [_attr_to_json(a) for a in b.attributes]
    if b.block_types:
        out["block_types"] = [
            {
                "type_name": nb.type_name,
                "nesting": _BLOCK_NESTING.get(nb.nesting, "single"),
                "block": _block_to_json(nb.block),
                **({"min_items": nb.min_items} if nb.min_items else {}),
                **({"max_items": nb.max_items} if nb.max_items else {}),
            }
            for nb in b.block_types
        ]
    if b.description:
        out["description"] = b.description
        if b.description_kind:
            out["description_kind"] = _kind(b.description_kind)
    if b.deprecated:
        out["deprecated"] = True
    return out


def schema_proto_to_json(s: Any) -> dict[str, Any]:
    """A tfplugin5/6 ``Schema`` message as our cache's JSON form."""
    return {"version": s.version, "block": _block_to_json(s.block)}


# ------------------------------------------------------------------------------------
# Provider schema with lazily loaded types
# ------------------------------------------------------------------------------------


class UnknownTypeError(ProviderError, KeyError):
    """The provider has no resource type / data source of that name."""

    def __str__(self) -> str:  # KeyError would repr() the message otherwise
        return self.message


class ProviderSchema:
    """A provider binary's schema; per-type schemas are parsed on first use."""

    def __init__(
        self,
        *,
        sha256: str,
        protocol_version: int,
        provider: Schema,
        provider_meta: Schema | None,
        capabilities: ServerCapabilities,
        index: dict[str, dict[str, list[int]]],
        data_path: Path | None,
        inline: dict[str, dict[str, dict[str, Any]]] | None = None,
    ) -> None:
        self.sha256 = sha256
        self.protocol_version = protocol_version
        self.provider = provider
        self.provider_meta = provider_meta
        self.capabilities = capabilities
        self._index = index
        self._data_path = data_path
        self._inline = inline or {}
        self._loaded: dict[tuple[str, str], Schema] = {}
        self._lock = threading.Lock()

    @property
    def resource_types(self) -> list[str]:
        return sorted(self._index.get("resource", {}))

    @property
    def data_source_types(self) -> list[str]:
        return sorted(self._index.get("data_source", {}))

    def has_resource(self, type_name: str) -> bool:
        return type_name in self._index.get("resource", {})

    def has_data_source(self, type_name: str) -> bool:
        return type_name in self._index.get("data_source", {})

    def resource_version(self, type_name: str) -> int:
        """The current schema version of a resource type (no parsing needed)."""
        return self._entry("resource", type_name)[2]

    def resource(self, type_name: str) -> Schema:
        return self._get("resource", type_name)

    def data_source(self, type_name: str) -> Schema:
        return self._get("data_source", type_name)

    def _entry(self, kind: str, type_name: str) -> list[int]:
        entries = self._index.get(kind, {})
        entry = entries.get(type_name)
        if entry is None:
            label = "resource type" if kind == "resource" else "data source"
            close = difflib.get_close_matches(type_name, list(entries), n=3, cutoff=0.6)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise UnknownTypeError(f"the provider has no {label} named {type_name!r}{hint}")
        return entry

    def _get(self, kind: str, type_name: str) -> Schema:
        key = (kind, type_name)
        cached = self._loaded.get(key)
        if cached is not None:
            return cached
        entry = self._entry(kind, type_name)
        if kind in self._inline and type_name in self._inline[kind]:
            doc = self._inline[kind][type_name]
        else:
            assert self._data_path is not None
            with self._data_path.open("rb") as f:
                f.seek(entry[0])
                doc = json.loads(f.read(entry[1]))
        schema = schema_from_json(doc)
        with self._lock:
            self._loaded.setdefault(key, schema)
        return self._loaded[key]

    # -- descriptions for MCP tools ---------------------------------------------------
    def describe_resource(
        self, type_name: str, *, provider: str = "", version: str = ""
    ) -> ResourceTypeDescription:
        return describe(self.resource(type_name), type_name, "resource", provider, version)

    def describe_data_source(
        self, type_name: str, *, provider: str = "", version: str = ""
    ) -> ResourceTypeDescription:
        return describe(self.data_source(type_name), type_name, "data_source", provider, version)


class SchemaCache:
    """Provider schemas on disk, keyed by the binary's sha256, plus an in-process memo."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._memo: dict[str, ProviderSchema] = {}

    @classmethod
    def from_settings(cls, settings: Any) -> SchemaCache:
        """The cache ``settings`` name (``Settings.resolved_schema_dir``: per machine)."""
        return cls(settings.resolved_schema_dir)

    def _dir(self, sha256: str) -> Path:
        if not re.fullmatch(r"[0-9a-fA-F]{16,128}", sha256):
            raise ValueError(f"not a sha256 digest: {sha256!r}")
        return self.root / sha256.lower()

    def get(self, sha256: str) -> ProviderSchema | None:
        """The cached schema for a binary, or None if it was never fetched."""
        memo = self._memo.get(sha256)
        if memo is not None:
            return memo
        directory = self._dir(sha256)
        try:
            index = json.loads((directory / "index.json").read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        if index.get("format") != CACHE_FORMAT:
            return None
        schema = ProviderSchema(
            sha256=sha256,
            protocol_version=index["protocol_version"],
            provider=schema_from_json(index["provider"]),
            provider_meta=(
                schema_from_json(index["provider_meta"]) if index.get("provider_meta") else None
            ),
            capabilities=ServerCapabilities(**index.get("capabilities", {})),
            index={k: index.get(k, {}) for k in ("resource", "data_source")},
            data_path=directory / "types.json",
        )
        self._memo[sha256] = schema
        return schema

    def put(self, sha256: str, protocol_version: int, response: Any) -> ProviderSchema:
        """Store a ``GetProviderSchema`` response; returns the (lazy) schema."""
        diags = [d for d in _diagnostics_of(response) if d.severity == "error"]
        if diags:
            raise ProviderError.from_diagnostics("GetProviderSchema", diags)
        directory = self._dir(sha256)
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{sha256[:12]}-", dir=self.root))
        try:
            index: dict[str, Any] = {
                "format": CACHE_FORMAT,
                "sha256": sha256,
                "protocol_version": protocol_version,
                "provider": schema_proto_to_json(response.provider),
                "provider_meta": (
                    schema_proto_to_json(response.provider_meta)
                    if response.HasField("provider_meta")
                    and response.provider_meta.HasField("block")
                    else None
                ),
                "capabilities": {
                    "plan_destroy": response.server_capabilities.plan_destroy,
                    "get_provider_schema_optional": (
                        response.server_capabilities.get_provider_schema_optional
                    ),
                    "move_resource_state": response.server_capabilities.move_resource_state,
                },
            }
            offset = 0
            with (tmp / "types.json").open("wb") as out:
                for kind, table in (
                    ("resource", response.resource_schemas),
                    ("data_source", response.data_source_schemas),
                ):
                    entries: dict[str, list[int]] = {}
                    for name in sorted(table):
                        if not _TYPE_NAME.match(name):
                            log.warning("skipping provider type with odd name %r", name)
                            continue
                        s = table[name]
                        data = (
                            json.dumps(schema_proto_to_json(s), separators=(",", ":")).encode()
                            + b"\n"
                        )
                        out.write(data)
                        entries[name] = [offset, len(data), int(s.version)]
                        offset += len(data)
                    index[kind] = entries
            (tmp / "index.json").write_text(json.dumps(index, separators=(",", ":")))
            try:
                os.replace(tmp, directory)
            except OSError:
                # Another process stored the same binary's schema first: keep theirs.
                if not (directory / "index.json").exists():
                    raise
        finally:
            with contextlib.suppress(FileNotFoundError):
                shutil.rmtree(tmp)
        self._memo.pop(sha256, None)
        stored = self.get(sha256)
        assert stored is not None
        return stored


def _diagnostics_of(response: Any) -> list[Diagnostic]:
    from providers._protocol import diagnostics_from_proto

    return diagnostics_from_proto(response.diagnostics)


# ------------------------------------------------------------------------------------
# Compact descriptions (pydantic: they are MCP tool output)
# ------------------------------------------------------------------------------------


class AttributeDescription(BaseModel):
    """One attribute. Flags that are false and empty descriptions are left at their
    defaults, so ``model_dump(exclude_defaults=True)`` stays compact."""

    model_config = ConfigDict(frozen=True)

    name: str
    type: str | None = Field(default=None, description="cty type, e.g. list(string)")
    description: str | None = None
    required: bool = False
    optional: bool = False
    computed: bool = False
    sensitive: bool = False
    deprecated: bool = False
    write_only: bool = False
    nesting: str | None = Field(
        default=None, description="For nested attributes: single, list, set or map."
    )
    attributes: list[AttributeDescription] | None = None


class BlockDescription(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    nesting: str = Field(description="single, group, list, set or map")
    min_items: int = 0
    max_items: int = Field(default=0, description="0 means unlimited")
    description: str | None = None
    deprecated: bool = False
    attributes: list[AttributeDescription] = Field(default_factory=list)
    blocks: list[BlockDescription] = Field(default_factory=list)


class ResourceTypeDescription(BaseModel):
    model_config = ConfigDict(frozen=True)

    provider: str = ""
    provider_version: str = ""
    kind: Literal["resource", "data_source", "provider"]
    type_name: str
    schema_version: int = 0
    description: str | None = None
    deprecated: bool = False
    attributes: list[AttributeDescription] = Field(default_factory=list)
    blocks: list[BlockDescription] = Field(default_factory=list)


def _describe_attr(a: Attribute) -> AttributeDescription:
    nested = a.nested_type
    return AttributeDescription(
        name=a.name,
        type=None if nested else a.value_type.friendly_name,
        description=a.description or None,
        required=a.required,
        optional=a.optional,
        computed=a.computed,
        sensitive=a.sensitive,
        deprecated=a.deprecated,
        write_only=a.write_only,
        nesting=nested.nesting if nested else None,
        attributes=[_describe_attr(x) for x in _ordered(nested.attributes)] if nested else None,
    )


def _ordered(attrs: dict[str, Attribute]) -> list[Attribute]:
    # Required first, then optional, then computed-only: the order a config author reads.
    def rank(a: Attribute) -> tuple[int, str]:
        return (0 if a.required else 1 if a.optional else 2, a.name)

    return sorted(attrs.values(), key=rank)


def _describe_block(name: str, nb: NestedBlock) -> BlockDescription:
    return BlockDescription(
        name=name,
        nesting=nb.nesting,
        min_items=nb.min_items,
        max_items=nb.max_items,
        description=nb.block.description or None,
        deprecated=nb.block.deprecated,
        attributes=[_describe_attr(a) for a in _ordered(nb.block.attributes)],
        blocks=[_describe_block(n, b) for n, b in sorted(nb.block.block_types.items())],
    )


def describe(
    schema: Schema,
    type_name: str,
    kind: Literal["resource", "data_source", "provider"],
    provider: str = "",
    version: str = "",
) -> ResourceTypeDescription:
    """A compact, JSON-friendly description of one type for MCP tools and the CLI."""
    return ResourceTypeDescription(
        provider=provider,
        provider_version=version,
        kind=kind,
        type_name=type_name,
        schema_version=schema.version,
        description=schema.block.description or None,
        deprecated=schema.block.deprecated,
        attributes=[_describe_attr(a) for a in _ordered(schema.block.attributes)],
        blocks=[_describe_block(n, b) for n, b in sorted(schema.block.block_types.items())],
    )
