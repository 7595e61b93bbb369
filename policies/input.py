"""The policy input contract (DESIGN.md, "Policy input contract") and its builder.

What a policy sees is built here, in one place, so that two promises hold everywhere:

- sensitive attribute values never enter it: values at the provider schema's sensitive
  paths (and values the codec already marked sensitive) become ``"(sensitive)"``;
- it is plain JSON: values unknown until apply become ``"(known after apply)"``, sets
  become sorted lists, anything else the codec might hand over is rejected loudly.

``resource.provider_config`` (an addition to the DESIGN contract, null when unknown)
carries the provider's configuration, redacted the same way, so that a policy can see
e.g. the AWS region a resource would be created in; ``integration`` (another addition,
null when none is attached) names the cloud integration the provider acts through:
its name, kind, account, region and Read / Write switches.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ANY_ELEMENT",
    "SENSITIVE",
    "UNKNOWN",
    "AttributePath",
    "Operation",
    "PolicyActor",
    "PolicyChange",
    "PolicyInput",
    "PolicyInputSchema",
    "PolicyIntegration",
    "PolicyProject",
    "PolicyRequest",
    "PolicyResource",
    "ResourceFacts",
    "build_policy_input",
    "input_schema",
    "redact",
]

SENSITIVE = "(sensitive)"
UNKNOWN = "(known after apply)"
# In an attribute path: any element of a list or set, or any value of a map.
ANY_ELEMENT = "*"

Operation = Literal["create", "update", "delete", "import", "refresh"]
# "system": intent acting on its own (a project TTL cleanup), named in actor.id.
Via = Literal["mcp", "api", "ui", "cli", "system"]
AttributePath = Sequence[str | int]
JSONValue = Any  # None | bool | int | float | str | list[JSONValue] | dict[str, JSONValue]


# -- the contract -------------------------------------------------------------------------


class PolicyChange(BaseModel):
    actions: list[str]
    replace_paths: list[list[str | int]] = Field(
        default_factory=list,
        description="Attribute paths (segment lists) whose change forces a replacement.",
    )


class PolicyResource(BaseModel):
    resource_id: str
    resource_type: str
    provider: str = Field(description="namespace/type, e.g. hashicorp/aws")
    provider_version: str
    operation: Operation
    current_state: dict[str, JSONValue] | None = Field(description="null on create")
    proposed_state: dict[str, JSONValue] | None = Field(description="null on delete")
    change: PolicyChange
    provider_config: dict[str, JSONValue] | None = None


class PolicyProject(BaseModel):
    id: str
    name: str
    space: str = "root"
    labels: list[str] = Field(default_factory=list)


class PolicyActor(BaseModel):
    id: str
    name: str
    roles: list[str] = Field(default_factory=list)
    via: Via


class PolicyRequest(BaseModel):
    change_id: str
    timestamp_ns: int = Field(ge=0, description="Request time; time.now_ns() in policies.")


class PolicyIntegration(BaseModel):
    name: str
    kind: str = Field(description="aws (IAM roles assumed per change) or static")
    provider: str
    account_id: str | None = Field(description="The cloud account, when the kind knows it")
    region: str | None
    read: bool
    write: bool


class PolicyInput(BaseModel):
    """``input`` of an Intent policy. Build it with ``build_policy_input``."""

    resource: PolicyResource
    project: PolicyProject
    actor: PolicyActor
    request: PolicyRequest
    integration: PolicyIntegration | None = Field(
        default=None, description="The integration the provider acts through; null: none"
    )

    @classmethod
    def example(cls) -> PolicyInput:
        """A plausible create, for trial evaluations and the workbench's blank slate."""
        return cls(
            resource=PolicyResource(
                resource_id="example",
                resource_type="aws_s3_bucket",
                provider="hashicorp/aws",
                provider_version="5.100.0",
                operation="create",
                current_state=None,
                proposed_state={"bucket": "example", "tags": {}},
                change=PolicyChange(actions=["create"]),
            ),
            project=PolicyProject(id="example", name="example"),
            actor=PolicyActor(id="example", name="example", via="api"),
            request=PolicyRequest(change_id="example", timestamp_ns=0),
            integration=PolicyIntegration(
                name="example",
                kind="aws",
                provider="hashicorp/aws",
                account_id="123456789012",
                region="us-east-1",
                read=True,
                write=True,
            ),
        )


class PolicyInputSchema(BaseModel):
    """What a policy is given and what it may answer (``policy-input-schema``)."""

    input_schema: dict[str, Any] = Field(description="JSON Schema of `input`")
    example: dict[str, Any] = Field(description="An input as a create of a bucket sees it")
    rules: dict[str, str] = Field(description="The rules a policy may define, and their effect")
    notes: list[str]


def input_schema() -> PolicyInputSchema:
    """The contract generated from the very model inputs are built with, so the schema a
    policy author reads cannot drift from what policies are given."""
    return PolicyInputSchema(
        input_schema=PolicyInput.model_json_schema(),
        example=PolicyInput.example().model_dump(mode="json"),
        rules={
            "deny": "set of strings: any entry denies the operation, with the entry as reason",
            "allow": "set of strings: without a deny, allows the operation (no review)",
            "sample": "bool: keep this input and result for the policy workbench",
        },
        notes=[
            "package spacelift; Rego v1 unless the policy's rego_version is v0",
            "no deny and no allow from any policy governing the project: the operation "
            "waits for a reviewer",
            f"sensitive values read {SENSITIVE!r}; values known only after apply read {UNKNOWN!r}",
            f"resource.operation is one of {', '.join(get_args(Operation))}",
        ],
    )


# -- building it --------------------------------------------------------------------------


class ResourceFacts(BaseModel):
    """What the plan knows about one operation, before redaction.

    States and provider configuration are the codec's decoded values: they may hold its
    unknown and sensitive markers, sets and the like (``build_policy_input`` cleans up).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    resource_id: str
    resource_type: str
    provider: str
    provider_version: str
    operation: Operation
    current_state: Any = None
    proposed_state: Any = None
    actions: list[str] | None = Field(
        default=None, description="Terraform plan actions; derived from the operation if None."
    )
    replace_paths: list[list[str | int]] = Field(default_factory=list)
    provider_config: Any = None


def _default_actions(operation: Operation, replacing: bool) -> list[str]:
    if operation == "update" and replacing:
        return ["delete", "create"]
    return {"refresh": ["read"]}.get(operation, [operation])


def build_policy_input(
    resource: ResourceFacts,
    project: PolicyProject,
    actor: PolicyActor,
    request: PolicyRequest,
    *,
    integration: PolicyIntegration | None = None,
    sensitive_paths: Iterable[AttributePath] = (),
    provider_sensitive_paths: Iterable[AttributePath] = (),
    is_unknown: Callable[[object], bool] | None = None,
    is_sensitive: Callable[[object], bool] | None = None,
) -> PolicyInput:
    """The policy input for one operation, with sensitive values redacted.

    ``sensitive_paths`` apply to both states (from the resource type's schema),
    ``provider_sensitive_paths`` to the provider configuration; segments are attribute
    names, map keys, list indexes or ``ANY_ELEMENT``. ``is_unknown`` recognises the
    codec's unknown value, ``is_sensitive`` a value the codec already marked sensitive.
    """
    paths = list(sensitive_paths)  # used twice

    def clean(value: object, which: Iterable[AttributePath]) -> Any:
        return redact(value, which, is_unknown=is_unknown, is_sensitive=is_sensitive)

    current = clean(resource.current_state, paths)
    proposed = clean(resource.proposed_state, paths)
    config = clean(resource.provider_config, provider_sensitive_paths)
    for label, value in (("current_state", current), ("proposed_state", proposed)):
        if value is not None and not isinstance(value, dict):
            raise TypeError(f"{label} must be an object (or None), not {type(value).__name__}")
    return PolicyInput(
        resource=PolicyResource(
            resource_id=resource.resource_id,
            resource_type=resource.resource_type,
            provider=resource.provider,
            provider_version=resource.provider_version,
            operation=resource.operation,
            current_state=current,
            proposed_state=proposed,
            change=PolicyChange(
                actions=resource.actions
                if resource.actions is not None
                else _default_actions(resource.operation, bool(resource.replace_paths)),
                replace_paths=[list(p) for p in resource.replace_paths],
            ),
            provider_config=config if isinstance(config, dict) else None,
        ),
        project=project,
        actor=actor,
        request=request,
        integration=integration,
    )


# -- redaction ----------------------------------------------------------------------------


class _PathTrie:
    """Sensitive paths as a trie: following a value down the tree, keep the live nodes."""

    __slots__ = ("children", "terminal")

    def __init__(self) -> None:
        self.children: dict[str | int, _PathTrie] = {}
        self.terminal = False

    @classmethod
    def build(cls, paths: Iterable[AttributePath]) -> _PathTrie:
        root = cls()
        for path in paths:
            node = root
            for segment in path:
                if isinstance(segment, bool) or not isinstance(segment, str | int):
                    raise TypeError(f"path segment {segment!r} is not a name, key or index")
                node = node.children.setdefault(segment, cls())
            node.terminal = True
        return root

    def step(self, key: str | int | None) -> list[_PathTrie]:
        found = [] if key is None else [self.children[key]] if key in self.children else []
        wildcard = self.children.get(ANY_ELEMENT)
        if wildcard is not None and key != ANY_ELEMENT:
            found.append(wildcard)
        return found


def redact(
    value: object,
    sensitive_paths: Iterable[AttributePath],
    *,
    is_unknown: Callable[[object], bool] | None = None,
    is_sensitive: Callable[[object], bool] | None = None,
) -> JSONValue:
    """``value`` as plain JSON, with the values at ``sensitive_paths`` replaced.

    A null stays null (that an optional secret is unset is no secret).
    """
    root = _PathTrie.build(sensitive_paths)
    return _clean(value, [root], is_unknown, is_sensitive, ())


def _clean(
    value: object,
    nodes: list[_PathTrie],
    is_unknown: Callable[[object], bool] | None,
    is_sensitive: Callable[[object], bool] | None,
    where: tuple[str | int, ...],
) -> JSONValue:
    if value is None:
        return None
    if any(node.terminal for node in nodes) or (is_sensitive is not None and is_sensitive(value)):
        return SENSITIVE
    if is_unknown is not None and is_unknown(value):
        return UNKNOWN
    if isinstance(value, str | bool | int):
        return value
    if isinstance(value, float | Decimal):
        if not math.isfinite(value):
            raise ValueError(f"{_where(where)}: {value} cannot be represented in a policy input")
        return (
            int(value)
            if isinstance(value, Decimal) and value == value.to_integral()
            else float(value)
        )
    if isinstance(value, Mapping):
        return {
            str(key): _clean(
                item,
                [n for node in nodes for n in node.step(str(key))],
                is_unknown,
                is_sensitive,
                (*where, str(key)),
            )
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [
            _clean(
                item,
                [n for node in nodes for n in node.step(index)],
                is_unknown,
                is_sensitive,
                (*where, index),
            )
            for index, item in enumerate(value)
        ]
    if isinstance(value, set | frozenset):
        # A set's elements have no index: only a wildcard reaches them. Sorted by their
        # JSON rendering so the same set always yields the same input.
        children = [n for node in nodes for n in node.step(None)]
        items = [
            _clean(item, children, is_unknown, is_sensitive, (*where, ANY_ELEMENT))
            for item in value
        ]
        return sorted(items, key=lambda item: json.dumps(item, sort_keys=True))
    raise TypeError(
        f"{_where(where)}: a {type(value).__name__} cannot be represented in a policy input "
        "(is it the codec's unknown or sensitive marker? pass is_unknown / is_sensitive)"
    )


def _where(path: tuple[str | int, ...]) -> str:
    return "value at " + (".".join(str(p) for p in path) if path else "the top")
