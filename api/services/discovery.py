"""Discovery: existing cloud objects of a type that the project does not manage yet.

One discover call and one import change are the walkthrough's "review the discovery,
select, import": each object comes with its import id and a suggested resource id, and
objects another project manages are flagged so nobody manages one twice unknowingly.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from access.permissions import is_allowed
from api.context import Caller
from api.errors import Invalid
from api.services.access import require
from api.services.changes import current_project, require_lease
from api.services.projects import project_path
from api.services.worker import ask
from providers.listings import LISTINGS, listing_for
from store.models import Project
from workflows.lookup import ResourceDiscoveryWorkflow
from workflows.models import DiscoveredObject, DiscoveryInput, DiscoveryResult

__all__ = ["DiscoveryRequest", "DiscoveryView", "discover", "discoverable_types"]


class DiscoveryRequest(BaseModel):
    resource_type: str = Field(description="e.g. aws_ssm_parameter, aws_s3_bucket")
    filters: dict[str, str] = Field(
        default_factory=dict,
        description="Narrow the listing, e.g. {'path': '/app'} for SSM parameters; "
        "'prefix' (by name) works for every type",
    )
    limit: int = Field(default=200, ge=1, le=1000)


class DiscoveryView(DiscoveryResult):
    project: str
    imports: list[dict[str, str]] = Field(
        description="Ready for lifecycle-resources-import: keep the ones the user selects"
    )
    next_steps: str


def discoverable_types() -> dict[str, dict[str, str]]:
    """Resource type → its filters (name → meaning)."""
    return {
        t: {name: meaning for name, (_, meaning) in listing.filters.items()}
        | {"prefix": "names starting with this"}
        for t, listing in sorted(LISTINGS.items())
    }


async def discover(
    caller: Caller, project_ref: str | None, request: DiscoveryRequest
) -> DiscoveryView:
    listing = listing_for(request.resource_type)
    if listing is None:
        raise Invalid(
            f"intent cannot list existing {request.resource_type} objects; it can list "
            f"{', '.join(sorted(LISTINGS))}. For others, read a data source with "
            "lifecycle-datasources-read and import by id"
        )
    problems = listing.problems(request.filters)
    if problems:
        raise Invalid("; ".join(problems))
    project = await current_project(caller, project_ref)
    # It lists with the project's credentials: like a data source read.
    require(caller, "intent-datasource:read", await project_path(caller, project))
    await require_lease(caller, project)
    result: DiscoveryResult = await ask(
        caller,
        ResourceDiscoveryWorkflow.run,
        DiscoveryInput(
            project_id=project.id,
            resource_type=request.resource_type,
            filters=request.filters,
            limit=request.limit,
        ),
        kind="discovery",
        update="discover",
        summary=f"discover {request.resource_type} for {project.name}",
        project_id=project.id,
    )
    result.found = await _visible(caller, result.found)
    imports = [_import(request.resource_type, o) for o in result.found if o.managed_by is None]
    return DiscoveryView(
        **result.model_dump(),
        project=project.name,
        imports=imports,
        next_steps=(
            "Show the user what was found and let them choose; then import the selection in "
            "one change with lifecycle-resources-import (the `imports` entries are ready to "
            "pass; rename resource ids as the user likes). Objects with managed_by belong to "
            "another project: importing them here would manage them twice."
        ),
    )


async def _visible(caller: Caller, found: list[DiscoveredObject]) -> list[DiscoveredObject]:
    """Say which project manages an object only to those who may see that project."""
    allowed: dict[str, bool] = {}
    out = []
    for item in found:
        owner = item.managed_by_project_id
        if owner is not None and owner not in allowed:
            async with caller.db.session() as session:
                project = await session.get(Project, owner)
            allowed[owner] = project is not None and is_allowed(
                caller.principal, "intent-project:read", await project_path(caller, project)
            )
        if owner is not None and not allowed[owner]:
            item = item.model_copy(
                update={
                    "managed_by": "another project (not visible to you)",
                    "managed_by_project_id": None,
                }
            )
        out.append(item)
    return out


def _import(resource_type: str, found: DiscoveredObject) -> dict[str, str]:
    return {
        "resource_id": found.suggested_resource_id,
        "resource_type": resource_type,
        "import_id": found.import_id,
    }
