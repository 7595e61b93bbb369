"""MCP tools that ask providers and the registry (answered by the worker)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from mcp.server.mcpserver import Context
from mcp.types import ToolAnnotations
from pydantic import BaseModel, Field

from api.mcp.describe import compact_description
from api.services import discovery
from api.services.providers import lookup, read_data_source
from workflows.lookup import LookupInput

if TYPE_CHECKING:
    from api.context import Caller
    from api.mcp.server import McpEndpoint

__all__ = ["register"]

_READ = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=True
)
Provider = Annotated[str, Field(description="e.g. hashicorp/aws")]
Version = Annotated[str | None, Field(description="constraint, e.g. ~> 5.0")]
Types = Annotated[list[str], Field(min_length=1, max_length=20)]
Detail = Annotated[
    bool, Field(description="The full schema with descriptions and deprecated attributes")
]


class LookupResult(BaseModel):
    """Provider lookups return provider-shaped data; kept as a plain object."""

    result: dict[str, Any]


def _implied(types: list[str], provider: str | None) -> str:
    return provider or f"hashicorp/{types[0].split('_', 1)[0]}"


def register(endpoint: McpEndpoint) -> None:
    server = endpoint.server

    async def run(ctx: Context, input: LookupInput) -> dict[str, Any]:
        async def call(caller: Caller) -> dict[str, Any]:
            return await lookup(caller, input)

        return await endpoint.call(ctx, call)

    @server.tool(
        name="provider-search",
        description="Search the provider registry (OpenTofu) for providers.",
        annotations=_READ,
    )
    async def provider_search(
        query: str, ctx: Context, limit: Annotated[int, Field(ge=1, le=50)] = 10
    ) -> LookupResult:
        return LookupResult(
            result=await run(ctx, LookupInput(kind="search", query=query, limit=limit))
        )

    @server.tool(
        name="provider-describe",
        description="A provider's resource types and data sources (filter by substring; "
        "paginated).",
        annotations=_READ,
    )
    async def provider_describe(
        provider: Provider,
        ctx: Context,
        version: Version = None,
        filter: str = "",
        limit: Annotated[int, Field(ge=1, le=500)] = 100,
        cursor: str | None = None,
    ) -> LookupResult:
        return LookupResult(
            result=await run(
                ctx,
                LookupInput(
                    kind="provider",
                    provider=provider,
                    version=version,
                    query=filter,
                    limit=limit,
                    cursor=cursor,
                ),
            )
        )

    async def describe(
        ctx: Context,
        kind: str,
        types: list[str],
        provider: str | None,
        version: str | None,
        detail: bool,
    ) -> LookupResult:
        found = await run(
            ctx,
            LookupInput(
                kind=kind, provider=_implied(types, provider), version=version, types=types
            ),
        )
        if not detail:
            found = {**found, "types": [compact_description(t) for t in found.get("types", [])]}
        return LookupResult(result=found)

    @server.tool(
        name="provider-resources-describe",
        description="What to write in a resource type's config: required and optional "
        "arguments with types, nested blocks, read-only attributes to reference. "
        "detail: true gives the full schema with descriptions.",
        annotations=_READ,
    )
    async def provider_resources_describe(
        resource_types: Types,
        ctx: Context,
        provider: str | None = None,
        version: Version = None,
        detail: Detail = False,
    ) -> LookupResult:
        return await describe(ctx, "resources", resource_types, provider, version, detail)

    @server.tool(
        name="provider-datasources-describe",
        description="What a data source takes and returns (compact; detail: true gives the "
        "full schema).",
        annotations=_READ,
    )
    async def provider_datasources_describe(
        data_sources: Types,
        ctx: Context,
        provider: str | None = None,
        version: Version = None,
        detail: Detail = False,
    ) -> LookupResult:
        return await describe(ctx, "data_sources", data_sources, provider, version, detail)

    @server.tool(
        name="lifecycle-datasources-read",
        description="Read a data source with the project's credentials (e.g. discover "
        "existing objects to import); needs the project's lock. References to managed "
        "resources resolve.",
        annotations=_READ,
    )
    async def datasources_read(
        data_source: str,
        ctx: Context,
        config: dict[str, Any] | None = None,
        project: Annotated[str | None, Field(description="default: your locked project")] = None,
        provider: str | None = None,
        version: Version = None,
    ) -> LookupResult:
        async def call(caller: Caller) -> dict[str, Any]:
            return await read_data_source(
                caller, project, data_source, provider=provider, version=version, config=config
            )

        return LookupResult(result=await endpoint.call(ctx, call))

    @server.tool(
        name="resource-discover",
        description="List existing cloud objects of a resource type that the project does "
        "not manage yet (e.g. aws_ssm_parameter with filters {'path': '/app'}, tagged "
        "aws_s3_bucket), each with its import id, a one-line summary and whether another "
        "project manages it. Then import the user's selection in one "
        "lifecycle-resources-import call. Needs the project's lock.",
        annotations=_READ,
    )
    async def resource_discover(
        resource_type: Annotated[
            str,
            Field(
                description="One of: "
                + ", ".join(
                    f"{t} ({', '.join(f)})" for t, f in discovery.discoverable_types().items()
                )
            ),
        ],
        ctx: Context,
        filters: dict[str, str] | None = None,
        project: Annotated[str | None, Field(description="default: your locked project")] = None,
        limit: Annotated[int, Field(ge=1, le=1000)] = 200,
    ) -> discovery.DiscoveryView:
        request = discovery.DiscoveryRequest(
            resource_type=resource_type, filters=filters or {}, limit=limit
        )
        return await endpoint.call(ctx, lambda c: discovery.discover(c, project, request))
