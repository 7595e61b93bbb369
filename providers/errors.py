"""Diagnostics and the errors the provider runtime raises.

Providers report problems as diagnostics (severity, summary, detail, attribute path).
We keep that shape all the way to the user: an error names the attribute it is about
(``tags["env"]``, ``ebs_block_device[0].volume_size``) so an AI client can fix the
config without guessing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "AttributePath",
    "Diagnostic",
    "MapKey",
    "ProviderApplyError",
    "ProviderCrashedError",
    "ProviderError",
    "ProviderLaunchError",
    "format_path",
]

# One step per attribute name (str) or collection key (str for maps, int for lists).
# JSON-safe on purpose: paths travel in Temporal payloads and policy input.
AttributePath = list[str | int]


class MapKey(str):
    """A path step that is a map key rather than an attribute name.

    Only used while building paths, so ``format_path`` can print ``tags["env"]``
    instead of ``tags.env``; it serializes as a plain string.
    """

    __slots__ = ()


def format_path(path: Sequence[str | int] | None) -> str:
    """Render a path the way Terraform users read it: ``a.b[0].c``, ``tags["env"]``."""
    if not path:
        return ""
    out: list[str] = []
    for step in path:
        if isinstance(step, int):
            out.append(f"[{step}]")
        elif isinstance(step, MapKey) or (out and not _is_identifier(step)):
            out.append(f"[{_quote(step)}]")
        else:
            out.append(f".{step}" if out else step)
    return "".join(out)


def _is_identifier(step: str) -> bool:
    return bool(step) and step.replace("_", "a").replace("-", "a").isalnum()


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class Diagnostic(BaseModel):
    """One provider (or runtime) message, optionally tied to an attribute."""

    model_config = ConfigDict(frozen=True)

    severity: Literal["error", "warning"]
    summary: str
    detail: str = ""
    attribute_path: AttributePath | None = Field(
        default=None, description="Steps: attribute names (str) and collection keys (str|int)."
    )
    attribute: str | None = Field(
        default=None, description='The path as users read it, e.g. tags["env"] or a.b[0].c.'
    )

    @model_validator(mode="before")
    @classmethod
    def _render_attribute(cls, data: object) -> object:
        # Render before validation turns MapKey steps into plain strings.
        if isinstance(data, dict) and data.get("attribute") is None:
            path = data.get("attribute_path")
            if path:
                data = {**data, "attribute": format_path(path)}
        return data

    def __str__(self) -> str:
        where = f" (at {self.attribute})" if self.attribute else ""
        detail = f": {self.detail}" if self.detail else ""
        return f"{self.severity}: {self.summary}{where}{detail}"

    @classmethod
    def error(
        cls, summary: str, detail: str = "", path: Sequence[str | int] | None = None
    ) -> Diagnostic:
        return cls(
            severity="error",
            summary=summary,
            detail=detail,
            attribute_path=list(path) if path is not None else None,
        )

    @classmethod
    def warning(
        cls, summary: str, detail: str = "", path: Sequence[str | int] | None = None
    ) -> Diagnostic:
        return cls(
            severity="warning",
            summary=summary,
            detail=detail,
            attribute_path=list(path) if path is not None else None,
        )


def errors_in(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    return [d for d in diagnostics if d.severity == "error"]


class ProviderError(Exception):
    """A provider (or our checks of what it returned) reported errors.

    ``diagnostics`` holds every diagnostic of the failed call, warnings included, so
    callers can show the whole picture. ``str()`` lists the errors with their paths.
    """

    def __init__(
        self,
        message: str,
        diagnostics: Sequence[Diagnostic] = (),
        *,
        provider: str | None = None,
        operation: str | None = None,
    ) -> None:
        self.message = message
        self.diagnostics: list[Diagnostic] = list(diagnostics)
        self.provider = provider
        self.operation = operation
        super().__init__(self._render())

    def _render(self) -> str:
        head = self.message
        if self.provider or self.operation:
            ctx = " ".join(p for p in (self.provider, self.operation) if p)
            head = f"{head} [{ctx}]"
        errs = errors_in(self.diagnostics)
        if not errs:
            return head
        return head + "\n" + "\n".join(f"  - {d}" for d in errs)

    @property
    def errors(self) -> list[Diagnostic]:
        return errors_in(self.diagnostics)

    @classmethod
    def from_diagnostics(
        cls,
        operation: str,
        diagnostics: Sequence[Diagnostic],
        *,
        provider: str | None = None,
    ) -> ProviderError:
        errs = errors_in(diagnostics)
        first = errs[0].summary if errs else "provider reported an error"
        more = f" (and {len(errs) - 1} more)" if len(errs) > 1 else ""
        return cls(
            f"{operation} failed: {first}{more}",
            diagnostics,
            provider=provider,
            operation=operation,
        )


class ProviderLaunchError(ProviderError):
    """The plugin process could not be started or did not complete the handshake."""


class ProviderCrashedError(ProviderError):
    """The plugin process exited or its gRPC channel broke during a call.

    The pool relaunches a fresh process on next use; the failed call is not retried
    automatically because an apply may or may not have reached the cloud API.
    """


class ProviderApplyError(ProviderError):
    """``ApplyResourceChange`` failed. ``result`` carries whatever state the provider
    returned alongside its errors: callers must save it, never drop it (a half-created
    object is still a real object)."""

    def __init__(
        self,
        message: str,
        diagnostics: Sequence[Diagnostic] = (),
        *,
        result: object = None,
        provider: str | None = None,
        operation: str | None = None,
    ) -> None:
        self.result = result
        super().__init__(message, diagnostics, provider=provider, operation=operation)
