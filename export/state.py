"""A Terraform state file (format version 4) from intent's stored states.

intent stores exactly what the provider returned, as cty JSON (``providers.codec``'s wire
form), with the schema version and private bytes: the same things Terraform keeps per
resource instance, so the state file is a re-shaping, not a translation.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from providers.schema import Schema

__all__ = [
    "STATE_TERRAFORM_VERSION",
    "StateResource",
    "has_sensitive_values",
    "lineage_of",
    "sensitive_attribute_paths",
    "terraform_state",
]

# The oldest Terraform that reads this state together with the exported configuration
# (import blocks need 1.5): Terraform refuses a state written by a newer version than itself.
STATE_TERRAFORM_VERSION = "1.5.0"
_LINEAGE_NAMESPACE = uuid.UUID("0b1c6a43-6a4f-4e0f-9d43-4c0f8f7a6e11")


@dataclass(frozen=True)
class StateResource:
    type: str
    name: str
    provider_address: str  # registry.terraform.io/hashicorp/aws
    schema: Schema
    schema_version: int
    attributes: dict[str, Any]
    private: str | None
    dependencies: Sequence[str]  # addresses, e.g. aws_s3_bucket.logs


def lineage_of(project_id: str) -> str:
    """One lineage per project: successive exports of a project are the same state's
    history (serials tell them apart), never two unrelated states."""
    return str(uuid.uuid5(_LINEAGE_NAMESPACE, f"intent-project:{project_id}"))


def _expand(
    path: tuple[str | int, ...], value: Any, done: tuple[Any, ...] = ()
) -> Iterator[tuple[Any, ...]]:
    """Concrete paths for a schema path (``"*"``: every element present in ``value``)."""
    if not path:
        yield done
        return
    head, rest = path[0], path[1:]
    if head == "*":
        if isinstance(value, list):
            for i, item in enumerate(value):
                yield from _expand(rest, item, (*done, i))
        elif isinstance(value, dict):
            for key, item in value.items():
                yield from _expand(rest, item, (*done, ("key", key)))
        return
    inner = value.get(head) if isinstance(value, dict) else None
    if rest and inner is None:
        return
    yield from _expand(rest, inner, (*done, head))


def sensitive_attribute_paths(schema: Schema, attributes: dict[str, Any]) -> list[list[Any]]:
    """``sensitive_attributes`` as Terraform writes them: one list of steps per path."""
    out: list[list[Any]] = []
    for path in schema.sensitive_paths:
        for concrete in _expand(path, attributes):
            steps: list[Any] = []
            for step in concrete:
                if isinstance(step, tuple):
                    steps.append({"type": "index", "value": {"value": step[1], "type": "string"}})
                elif isinstance(step, int):
                    steps.append({"type": "index", "value": {"value": step, "type": "number"}})
                else:
                    steps.append({"type": "get_attr", "value": step})
            out.append(steps)
    return out


def has_sensitive_values(schema: Schema, attributes: dict[str, Any] | None) -> bool:
    """Whether a stored state holds a value the schema marks sensitive (null does not)."""
    if not attributes:
        return False
    for path in schema.sensitive_paths:
        for concrete in _expand(path, attributes):
            current: Any = attributes
            for step in concrete:
                if isinstance(step, tuple):
                    current = current.get(step[1]) if isinstance(current, dict) else None
                elif isinstance(step, int):
                    current = current[step] if isinstance(current, list) else None
                else:
                    current = current.get(step) if isinstance(current, dict) else None
            if current not in (None, "", [], {}):
                return True
    return False


def terraform_state(
    resources: Sequence[StateResource], *, lineage: str, serial: int
) -> dict[str, Any]:
    """The state document (``terraform.tfstate``)."""
    return {
        "version": 4,
        "terraform_version": STATE_TERRAFORM_VERSION,
        "serial": serial,
        "lineage": lineage,
        "outputs": {},
        "resources": [_resource(r) for r in resources],
        "check_results": None,
    }


def _resource(resource: StateResource) -> dict[str, Any]:
    instance: dict[str, Any] = {
        "schema_version": resource.schema_version,
        "attributes": resource.attributes,
        "sensitive_attributes": sensitive_attribute_paths(resource.schema, resource.attributes),
    }
    if resource.private:
        instance["private"] = resource.private
    if resource.dependencies:
        instance["dependencies"] = sorted(resource.dependencies)
    return {
        "mode": "managed",
        "type": resource.type,
        "name": resource.name,
        "provider": f'provider["{resource.provider_address}"]',
        "instances": [instance],
    }
