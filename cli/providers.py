"""``intent providers …``: find, install and list Terraform/OpenTofu provider plugins."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine
from typing import Annotated, Any, TypeVar

import typer

from providers.errors import ProviderError
from providers.install import (
    LocalProvider,
    ProviderInstallError,
    install_provider,
    list_local_providers,
    parse_requirement,
)
from providers.models import InstalledProvider
from providers.pool import ProviderPool
from providers.registry import RegistryClient, SearchResult
from providers.schema import (
    AttributeDescription,
    BlockDescription,
    ResourceTypeDescription,
)
from settings import Settings

__all__ = ["app"]

app = typer.Typer(
    help="Find, install and list provider plugins (registry and filesystem mirrors).",
    no_args_is_help=True,
    add_completion=False,
)

_T = TypeVar("_T")

# CLI --type values → the registry search index's hit types.
_SEARCH_TYPES: dict[str, tuple[str, ...] | None] = {
    "provider": ("provider",),
    "resource": ("provider/resource",),
    "datasource": ("provider/datasource",),
    "function": ("provider/function",),
    "module": ("module",),
    "all": None,
}

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def _run(coro: Coroutine[Any, Any, _T]) -> _T:
    """Run one command's coroutine; user-fixable failures become one line on stderr."""
    try:
        return asyncio.run(coro)
    except (ProviderInstallError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


def _table(rows: list[list[str]], headers: list[str]) -> str:
    widths = [max(len(r[i]) for r in [headers, *rows]) for i in range(len(headers))]
    lines = [
        "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip()
        for row in [headers, *rows]
    ]
    return "\n".join(lines)


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="Words to look for, e.g. 'aws' or 'kubernetes'.")],
    type_: Annotated[
        str,
        typer.Option("--type", help="provider, resource, datasource, function, module or all."),
    ] = "provider",
    limit: Annotated[int, typer.Option(min=1, help="Show at most this many hits.")] = 20,
    json_output: JsonOpt = False,
) -> None:
    """Search the provider registry (OpenTofu's search API; INTENT_REGISTRY_SEARCH_URL)."""
    if type_ not in _SEARCH_TYPES:
        typer.echo(f"error: --type must be one of {', '.join(_SEARCH_TYPES)}", err=True)
        raise typer.Exit(2)

    async def go() -> list[SearchResult]:
        async with RegistryClient(Settings()) as client:
            return await client.search(query, types=_SEARCH_TYPES[type_], limit=limit)

    hits = _run(go())
    if json_output:
        typer.echo(json.dumps([hit.model_dump(mode="json") for hit in hits], indent=2))
        return
    if not hits:
        label = "" if type_ == "all" else f"{type_} "
        typer.echo(f"no {label}results for {query!r}")
        return
    rows = []
    for hit in hits:
        address = hit.address
        name = address.short if address is not None else hit.addr
        title = hit.title if hit.type != "provider" and hit.title != name else ""
        rows.append([name, hit.clean_version, hit.type, title or hit.description[:70]])
    typer.echo(_table(rows, ["ADDRESS", "VERSION", "TYPE", "DESCRIPTION"]))


@app.command()
def install(
    requirement: Annotated[
        str,
        typer.Argument(
            metavar="ADDR[@CONSTRAINT]",
            help="Provider source and optional version constraint, e.g. 'hashicorp/aws@~> 5.0'.",
        ),
    ],
    upgrade: Annotated[
        bool, typer.Option(help="Ask the registry for a newer matching version too.")
    ] = False,
    json_output: JsonOpt = False,
) -> None:
    """Install a provider (mirrors first, then the registry) and print the pinned version."""

    async def go() -> tuple[InstalledProvider, str]:
        settings = Settings()
        address, constraint = parse_requirement(requirement)
        installed = await install_provider(address, constraint, settings, upgrade=upgrade)
        # Fetch and cache its schema now, so the first change using it does not wait.
        pool = ProviderPool(settings)
        try:
            await pool.schema(installed)
            schema = "cached"
        except ProviderError as exc:  # installed all the same; a change will say more
            schema = f"not loaded ({str(exc).splitlines()[0]})"
        finally:
            await pool.aclose()
        return installed, schema

    installed, schema = _run(go())
    if json_output:
        typer.echo(installed.model_dump_json(indent=2))
        return
    protocols = ", ".join(str(p) for p in installed.protocol_versions)
    typer.echo(f"{installed.address.short} {installed.version}")
    typer.echo(f"  path:      {installed.path}")
    typer.echo(f"  sha256:    {installed.sha256}")
    typer.echo(f"  protocols: {protocols}")
    typer.echo(f"  schema:    {schema}")
    typer.echo(f"  pin with:  {installed.address.short}@{installed.version}")


@app.command()
def lock(
    project: Annotated[str, typer.Argument(help="Project name or id.")],
    update: Annotated[
        str | None,
        typer.Option(
            metavar="ADDR[@VERSION]",
            help="Admins: re-record this provider's entry from the package installed now.",
        ),
    ] = None,
    url: Annotated[str | None, typer.Option(help="Server URL (default $INTENT_URL).")] = None,
    token: Annotated[str | None, typer.Option(help="Bearer token (default $INTENT_TOKEN).")] = None,
    json_output: JsonOpt = False,
) -> None:
    """Show (or, as an admin, update) a project's provider lock: the provider packages,
    by version and hash, its changes may run."""
    from cli.remote import Remote, print_json

    remote = Remote(url, token)
    if update:
        provider, _, version = update.partition("@")
        entries = [
            remote.request(
                "POST",
                f"/projects/{project}/provider-locks",
                json={"provider": provider, "version": version or None},
            )
        ]
    else:
        entries = remote.request("GET", f"/projects/{project}/provider-locks")
    if json_output:
        print_json(entries)
        return
    if not entries:
        typer.echo(
            f"project {project} has no provider lock entries yet (its first change records them)"
        )
        return
    for entry in entries:
        typer.echo(f"{entry['provider']} {entry['version']}  (recorded by {entry['recorded_by']})")
        for digest in entry["hashes"]:
            typer.echo(f"  {digest}")


@app.command("list")
def list_(
    provider: Annotated[
        str | None, typer.Argument(help="Only this provider, e.g. hashicorp/aws.")
    ] = None,
    all_platforms: Annotated[
        bool, typer.Option("--all-platforms", help="Include packages for other platforms.")
    ] = False,
    json_output: JsonOpt = False,
) -> None:
    """List providers available without the network (installed and in mirrors)."""

    async def go() -> list[LocalProvider]:
        return await list_local_providers(Settings(), provider, all_platforms=all_platforms)

    found = _run(go())
    if json_output:
        typer.echo(json.dumps([p.model_dump(mode="json") for p in found], indent=2))
        return
    if not found:
        typer.echo("no providers available locally")
        return
    rows = [
        [
            p.address.short,
            p.version,
            p.platform,
            "installed" if p.installed else f"mirror ({p.layout})",
            str(p.path),
        ]
        for p in found
    ]
    typer.echo(_table(rows, ["ADDRESS", "VERSION", "PLATFORM", "WHERE", "PATH"]))


# -- describe (provider runtime) ---------------------------------------------------------


def _describe_lines(
    attributes: list[AttributeDescription], blocks: list[BlockDescription], indent: str
) -> list[str]:
    def flags(a: AttributeDescription) -> str:
        names = ("required", "optional", "computed", "sensitive", "write_only", "deprecated")
        return ", ".join(n.replace("_", "-") for n in names if getattr(a, n))

    lines: list[str] = []
    width = max((len(a.name) for a in attributes), default=0)
    for a in attributes:
        kind = a.type or f"nested {a.nesting}"
        desc = f"  {a.description.splitlines()[0][:80]}" if a.description else ""
        lines.append(f"{indent}{a.name.ljust(width)}  {kind}  ({flags(a)}){desc}")
        if a.attributes:
            lines += _describe_lines(a.attributes, [], indent + "    ")
    for b in blocks:
        limits = []
        if b.min_items:
            limits.append(f"min {b.min_items}")
        if b.max_items:
            limits.append(f"max {b.max_items}")
        extra = f", {', '.join(limits)}" if limits else ""
        lines.append(f"{indent}block {b.name} ({b.nesting}{extra})")
        lines += _describe_lines(b.attributes, b.blocks, indent + "    ")
    return lines


@app.command()
def describe(
    requirement: Annotated[
        str,
        typer.Argument(
            metavar="ADDR[@CONSTRAINT]",
            help="Provider, e.g. hashicorp/aws or 'hashicorp/aws@5.100.0'.",
        ),
    ],
    resource_type: Annotated[str, typer.Argument(help="Resource type, e.g. aws_s3_bucket.")],
    data_source: Annotated[
        bool, typer.Option("--data-source", help="Describe the data source of that name.")
    ] = False,
    json_output: JsonOpt = False,
) -> None:
    """Show a resource type's (or data source's) schema: attributes and nested blocks."""

    async def go() -> ResourceTypeDescription:
        settings = Settings()
        address, constraint = parse_requirement(requirement)
        installed = await install_provider(address, constraint, settings)
        pool = ProviderPool(settings)
        schema = await pool.schema(installed)
        describe_fn = schema.describe_data_source if data_source else schema.describe_resource
        return describe_fn(
            resource_type, provider=installed.address.short, version=installed.version
        )

    try:
        desc = _run(go())
    except ProviderError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    if json_output:
        typer.echo(desc.model_dump_json(indent=2, exclude_defaults=True))
        return
    kind = "data source" if desc.kind == "data_source" else "resource"
    typer.echo(
        f"{desc.type_name}  ({desc.provider} {desc.provider_version}, {kind}, "
        f"schema version {desc.schema_version})"
    )
    if desc.description:
        typer.echo(f"  {desc.description.strip()}")
    for line in _describe_lines(desc.attributes, desc.blocks, "  "):
        typer.echo(line)
