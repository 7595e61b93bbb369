"""Result models of provider operations: JSON-safe, so they can be Temporal payloads.

Values are in *wire JSON* (see ``providers.codec``): cty's JSON plus
``{"$unknown": true}`` for unknown values. With the type's schema they decode back
exactly. Opaque provider bytes (private state) are base64 strings.
"""

from __future__ import annotations

import base64
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

from providers.errors import AttributePath, Diagnostic, format_path
from providers.plan import AttributeChange, ChangeAction

__all__ = [
    "ApplyResult",
    "DataSourceResult",
    "ImportResult",
    "PlannedChange",
    "ReadResult",
    "ResourceState",
    "b64decode",
    "b64encode",
]


def b64encode(data: bytes | None) -> str | None:
    return base64.b64encode(data).decode("ascii") if data else None


def b64decode(data: str | None) -> bytes:
    return base64.b64decode(data) if data else b""


class ResourceState(BaseModel):
    """What we store for a managed object: exactly what the provider last returned.

    ``attributes`` is wire JSON of the resource type's schema at ``schema_version``;
    ``private`` is the provider's opaque private data (base64), which must be handed
    back on every later call.
    """

    model_config = ConfigDict(frozen=True)

    type_name: str
    schema_version: int = 0
    attributes: dict[str, Any]
    private: str | None = Field(default=None, description="base64 of provider private bytes")


class PlannedChange(BaseModel):
    """A planned change to one resource, as returned by ``ProviderClient.plan``.

    Hand it back unchanged to ``ProviderClient.apply`` (with the final config when
    ``config_has_unknowns``). ``prior`` is the upgraded, refreshed prior state the
    plan started from; ``planned`` is the state the provider expects after apply (for
    a replacement: the new object's state).
    """

    model_config = ConfigDict(frozen=True)

    type_name: str
    schema_version: int
    action: ChangeAction
    replace_order: Literal["delete_then_create", "create_then_delete"] | None = None
    prior: ResourceState | None = None
    config: dict[str, Any] | None = Field(default=None, description="wire JSON, may hold unknowns")
    planned: dict[str, Any] | None = Field(default=None, description="wire JSON, may hold unknowns")
    planned_private: str | None = None
    requires_replace: list[AttributePath] = Field(default_factory=list)
    diff: list[AttributeChange] = Field(default_factory=list)
    drift: list[AttributeChange] = Field(
        default_factory=list, description="Changes made outside intent, found by the refresh"
    )
    prior_gone: bool = Field(
        default=False, description="The stored object no longer exists (deleted outside)"
    )
    config_has_unknowns: bool = False
    legacy_type_system: bool = False
    warnings: list[Diagnostic] = Field(default_factory=list)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def actions(self) -> list[str]:
        """Terraform's JSON-plan spelling: ["create"], ["delete", "create"], …"""
        if self.action == ChangeAction.REPLACE:
            if self.replace_order == "create_then_delete":
                return ["create", "delete"]
            return ["delete", "create"]
        return [self.action.value]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def replace_paths(self) -> list[str]:
        return [format_path(p) for p in self.requires_replace]


class ApplyResult(BaseModel):
    """The outcome of an apply: the state to store (None: no object exists)."""

    model_config = ConfigDict(frozen=True)

    type_name: str
    action: ChangeAction
    state: ResourceState | None
    deposed: ResourceState | None = Field(
        default=None,
        description="create_then_delete only: the old object, when deleting it failed",
    )
    warnings: list[Diagnostic] = Field(default_factory=list)


class ReadResult(BaseModel):
    """A refresh: the current state (None when the object was deleted outside)."""

    model_config = ConfigDict(frozen=True)

    type_name: str
    state: ResourceState | None
    drift: list[AttributeChange] = Field(default_factory=list)
    warnings: list[Diagnostic] = Field(default_factory=list)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def exists(self) -> bool:
        return self.state is not None


class ImportResult(BaseModel):
    """Imported objects, already read: ``states[0]`` is the one of the requested type
    (a few providers import extra related objects after it)."""

    model_config = ConfigDict(frozen=True)

    type_name: str
    import_id: str
    states: list[ResourceState]
    warnings: list[Diagnostic] = Field(default_factory=list)

    @property
    def state(self) -> ResourceState:
        return self.states[0]


class DataSourceResult(BaseModel):
    """A data source read. When its config still has unknowns it cannot be read yet:
    ``deferred`` is true and ``state`` shows what is known (unknowns elsewhere)."""

    model_config = ConfigDict(frozen=True)

    type_name: str
    state: dict[str, Any] | None
    deferred: bool = False
    warnings: list[Diagnostic] = Field(default_factory=list)
