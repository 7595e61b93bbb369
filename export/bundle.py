"""A project as a Terraform configuration directory: the files an export writes.

Two ways into Terraform, both in every export:

- **the state**: ``terraform.tfstate`` holds each resource exactly as intent last stored
  it. Resources whose state holds a sensitive value are in it only when the export
  includes secrets (an admin's choice); the others come in through their import block.
- **the import blocks**: ``imports.tf`` names every resource's import id (checked against
  the cloud by the export, where it could be). With an empty state, ``terraform plan``
  imports everything and changes nothing.

Pure: ``activities/export.py`` gathers configs, states, schemas and locks in the worker.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from export.hcl import (
    INDENT,
    ReferenceTarget,
    SecretHook,
    body_lines,
    hcl_type,
    identifier,
    quote,
)
from export.state import StateResource, has_sensitive_values, terraform_state
from providers.schema import Attribute, Block, Schema

__all__ = ["ExportFiles", "ExportProvider", "ExportResource", "build_files"]


@dataclass(frozen=True)
class ExportProvider:
    source: str  # as users write it: hashicorp/aws, or HOST/NAMESPACE/TYPE off the registries
    address: str  # the full address Terraform resolves: registry.terraform.io/hashicorp/aws
    version: str
    hashes: Sequence[str]
    config: Mapping[str, Any]  # the provider block, credentials already removed
    block: Block | None  # the provider's config schema
    notes: Sequence[str] = ()

    @property
    def type(self) -> str:
        return self.address.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class ExportResource:
    resource_id: str
    type: str
    provider: str  # ExportProvider.source
    config: Mapping[str, Any]
    schema: Schema
    state: dict[str, Any] | None
    private: str | None
    schema_version: int
    depends_on: Sequence[str] = ()  # declared (explicit) dependencies
    dependencies: Sequence[str] = ()  # every dependency, for the state file
    import_id: str | None = None
    import_verified: bool = False  # the provider imported this id as this very object
    import_note: str = ""  # why the import id is missing or not verified

    @property
    def address(self) -> str:
        return f"{self.type}.{self.resource_id}"


@dataclass
class ExportFiles:
    files: dict[str, str]
    variables: dict[str, str] = field(default_factory=dict)  # name → what it is
    in_state: list[str] = field(default_factory=list)
    not_in_state: list[str] = field(default_factory=list)  # hold secrets: import them
    unverified_imports: list[str] = field(default_factory=list)


class _Variables:
    """Sensitive values become variables; the name says whose attribute it is."""

    def __init__(self) -> None:
        self.blocks: dict[str, tuple[str, Attribute, Any]] = {}

    def hook(self, prefix: str, owner: str) -> SecretHook:
        """Names variables ``prefix_path``; ``owner`` says where the value goes."""

        def on_secret(path: tuple[str | int, ...], attr: Attribute, value: Any) -> str:
            base = identifier("_".join([prefix, *map(str, path)]))
            name, n = base, 2
            while name in self.blocks:
                name, n = f"{base}_{n}", n + 1
            what = f"{owner}.{'.'.join(map(str, path))}"
            self.blocks[name] = (what, attr, value)
            return f"var.{name}"

        return on_secret

    def text(self) -> str:
        out: list[str] = []
        for name, (what, attr, _) in self.blocks.items():
            kind = "write-only" if attr.write_only and not attr.sensitive else "sensitive"
            out += [
                f'variable "{name}" {{',
                f"{INDENT}description = {quote(f'{what} ({kind}; set TF_VAR_{name})')}",
                f"{INDENT}type        = {hcl_type(attr.value_type)}",
                f"{INDENT}sensitive   = true",
                "}",
                "",
            ]
        return "\n".join(out)


def _local_names(providers: Sequence[ExportProvider]) -> dict[str, str]:
    """Provider local names: the type (``aws``), or NAMESPACE-TYPE when two share a type."""
    counts: dict[str, int] = {}
    for p in providers:
        counts[p.type] = counts.get(p.type, 0) + 1
    return {
        p.source: p.type if counts[p.type] == 1 else f"{p.address.split('/')[-2]}-{p.type}"
        for p in providers
    }


def _versions(providers: Sequence[ExportProvider], names: Mapping[str, str]) -> str:
    lines = ["terraform {", f'{INDENT}required_version = ">= 1.5.0"', ""]
    lines.append(f"{INDENT}required_providers {{")
    for p in providers:
        lines += [
            f"{INDENT * 2}{names[p.source]} = {{",
            f"{INDENT * 3}source  = {quote(p.source)}",
            f"{INDENT * 3}version = {quote(p.version)}",
            f"{INDENT * 2}}}",
        ]
    lines += [f"{INDENT}}}", "}", ""]
    return "\n".join(lines)


def _providers(
    providers: Sequence[ExportProvider], names: Mapping[str, str], variables: _Variables
) -> str:
    out: list[str] = []
    for p in providers:
        local = names[p.source]
        out += [f"# {note}" for note in p.notes]
        hook = variables.hook(f"provider_{local}", f"provider {local}")
        body = body_lines(p.block, p.config, {}, hook) if p.block else []
        out += [f'provider "{local}" {{', *body, "}", ""]
    return "\n".join(out)


def _resources(
    resources: Sequence[ExportResource],
    names: Mapping[str, str],
    targets: Mapping[str, ReferenceTarget],
    variables: _Variables,
) -> str:
    out: list[str] = []
    for r in resources:
        lines: list[str] = []
        local = names[r.provider]
        if local != r.type.split("_", 1)[0]:
            lines += [f"{INDENT}provider = {local}", ""]
        hook = variables.hook(r.resource_id, r.address)
        lines += body_lines(r.schema.block, r.config, targets, hook)
        if r.depends_on:
            deps = ", ".join(targets[d].address for d in sorted(r.depends_on) if d in targets)
            lines += ["", f"{INDENT}depends_on = [{deps}]"]
        out += [f'resource "{r.type}" "{r.resource_id}" {{', *lines, "}", ""]
    return "\n".join(out)


def _imports(resources: Sequence[ExportResource]) -> str:
    out: list[str] = []
    for r in resources:
        block = [
            "import {",
            f"{INDENT}to = {r.address}",
            f"{INDENT}id = {quote(r.import_id or '')}",
        ]
        if r.import_id is None:
            out.append(f"# {r.address}: {r.import_note or 'no import id is known'}")
            out += [f"# {line}" for line in block] + ["# }", ""]
            continue
        if not r.import_verified:
            out.append(f"# not verified: {r.import_note or 'the provider was not asked'}")
        out += [*block, "}", ""]
    return "\n".join(out)


def _lock_file(providers: Sequence[ExportProvider]) -> str:
    out = [
        "# The provider packages this project runs, by hash (from intent's provider lock).",
        "# `terraform init` installs only packages that match.",
        "",
    ]
    for p in providers:
        out += [
            f'provider "{p.address}" {{',
            f"{INDENT}version     = {quote(p.version)}",
            f"{INDENT}constraints = {quote(p.version)}",
            f"{INDENT}hashes = [",
            *[f"{INDENT * 2}{quote(h)}," for h in sorted(p.hashes)],
            f"{INDENT}]",
            "}",
            "",
        ]
    return "\n".join(out)


def build_files(
    *,
    project: str,
    providers: Sequence[ExportProvider],
    resources: Sequence[ExportResource],
    include_secrets: bool,
    lineage: str,
    serial: int,
) -> ExportFiles:
    """Every file of the export, by name."""
    names = _local_names(providers)
    by_source = {p.source: p for p in providers}
    targets = {r.resource_id: ReferenceTarget(r.address, r.schema.implied_type) for r in resources}
    variables = _Variables()
    files = {
        "versions.tf": _versions(providers, names),
        "providers.tf": _providers(providers, names, variables),
        "main.tf": _resources(resources, names, targets, variables),
        "imports.tf": _imports(resources),
    }
    if variables.blocks:
        files["variables.tf"] = variables.text()
    result = ExportFiles(files=files)
    state: list[StateResource] = []
    for r in resources:
        if r.state is None:
            continue
        if not include_secrets and has_sensitive_values(r.schema, r.state):
            result.not_in_state.append(r.address)
            continue
        result.in_state.append(r.address)
        state.append(
            StateResource(
                type=r.type,
                name=r.resource_id,
                provider_address=by_source[r.provider].address,
                schema=r.schema,
                schema_version=r.schema_version,
                attributes=r.state,
                private=r.private,
                dependencies=[targets[d].address for d in r.dependencies if d in targets],
            )
        )
    files["terraform.tfstate"] = (
        json.dumps(terraform_state(state, lineage=lineage, serial=serial), indent=2) + "\n"
    )
    files[".terraform.lock.hcl"] = _lock_file(providers)
    result.variables = {name: what for name, (what, _, _) in variables.blocks.items()}
    result.unverified_imports = [r.address for r in resources if not r.import_verified]
    files["EXPORT.md"] = _readme(project, providers, result, include_secrets)
    return result


def _readme(
    project: str, providers: Sequence[ExportProvider], result: ExportFiles, include_secrets: bool
) -> str:
    lines = [
        f"# {project}, exported from intent",
        "",
        "Terraform configuration for every resource intent manages in this project: provider",
        "versions pinned (and their hashes in `.terraform.lock.hcl`), references between",
        "resources as expressions, and two ways to take the resources over:",
        "",
        "1. **With the state**: keep `terraform.tfstate` (or push it to your backend with",
        "   `terraform state push`). `terraform plan` should report no changes.",
        "2. **With the import blocks** (`imports.tf`): start from an empty state;",
        "   `terraform plan` imports every resource and changes nothing. Delete `imports.tf`",
        "   after the first apply.",
        "",
        "Provider credentials are not exported: give them to Terraform the usual way",
        "(environment variables, a profile, a role).",
    ]
    notes = [n for p in providers for n in p.notes]
    if notes:
        lines += ["", "## Providers", "", *[f"- {n}" for n in notes]]
    if result.variables:
        lines += [
            "",
            "## Sensitive values",
            "",
            "Sensitive values are variables, never literals; set each before planning:",
            "",
            *[f"- `TF_VAR_{name}`: {what}" for name, what in result.variables.items()],
        ]
    if result.not_in_state:
        lines += [
            "",
            "## Left out of the state",
            "",
            "These resources hold sensitive values, and this export does not include secrets",
            "(an admin may export with `--include-secrets`); they come in through their",
            "import blocks:",
            "",
            *[f"- `{a}`" for a in result.not_in_state],
        ]
    elif include_secrets and result.in_state:
        lines += [
            "",
            "## Secrets",
            "",
            "`terraform.tfstate` holds sensitive values in clear, like Terraform's own state:",
            "keep it out of version control and store it in an encrypted backend.",
        ]
    if result.unverified_imports:
        lines += [
            "",
            "## Import ids to check",
            "",
            "intent could not confirm an import id for these (see the comments in",
            "`imports.tf`):",
            "",
            *[f"- `{a}`" for a in result.unverified_imports],
        ]
    return "\n".join(lines) + "\n"
