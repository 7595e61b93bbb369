"""Read-only questions answered by the worker: each a short workflow running one activity.

The server never talks to providers or the registry itself and never opens sealed
configs or states, so a schema description, a registry search, a data source read, a
project export or a discovery is a workflow visible in the Temporal UI like any change,
but changing nothing. Each carries the server's signature (its activity answers only
what the server started) and, for a project on a worker pool, runs its activity there,
where the project's credentials are.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.discovery import DiscoveryActivities
    from activities.export import ExportActivities
    from activities.lookup import LookupActivities
    from workflows.models import (
        DiscoveryInput,
        DiscoveryResult,
        ExportInput,
        ExportResult,
        LookupInput,
    )
    from workflows.temporal import pool_queue

__all__ = [
    "LookupInput",
    "ProjectExportWorkflow",
    "ProviderLookupWorkflow",
    "ResourceDiscoveryWorkflow",
]

_RETRY = RetryPolicy(
    maximum_attempts=3,
    non_retryable_error_types=[
        "InvalidLookup",
        "InvalidExport",
        "InvalidDiscovery",
        "ProviderError",
    ],
)

# One activity per kind of question.
_ANSWERS = {
    "search": LookupActivities.lookup_search,
    "provider": LookupActivities.lookup_provider,
    "resources": LookupActivities.lookup_resources,
    "data_sources": LookupActivities.lookup_data_sources,
    "read_data": LookupActivities.lookup_read_data,
    "lock": LookupActivities.lookup_lock,
}


def _where(pool: str | None) -> dict[str, Any]:
    """Activity options: a project's reads run where its credentials are, on its worker
    pool if it has one (waiting a while for one of its workers)."""
    options: dict[str, Any] = {
        "start_to_close_timeout": timedelta(minutes=5),
        "retry_policy": _RETRY,
    }
    if pool:
        options["task_queue"] = pool_queue(pool)
        options["schedule_to_start_timeout"] = timedelta(minutes=5)
    return options


@workflow.defn
class ProviderLookupWorkflow:
    @workflow.run
    async def run(self, input: LookupInput) -> dict[str, Any]:
        return await workflow.execute_activity_method(
            _ANSWERS[input.kind], input, **_where(input.pool)
        )


@workflow.defn
class ProjectExportWorkflow:
    """A project as Terraform files, sealed for the server that asked (``export/``)."""

    @workflow.run
    async def run(self, input: ExportInput) -> ExportResult:
        return await workflow.execute_activity_method(
            ExportActivities.export_project,
            input,
            heartbeat_timeout=timedelta(seconds=60),
            **_where(input.pool),
        )


@workflow.defn
class ResourceDiscoveryWorkflow:
    """Existing cloud objects of a type the project does not manage yet."""

    @workflow.run
    async def run(self, input: DiscoveryInput) -> DiscoveryResult:
        return await workflow.execute_activity_method(
            DiscoveryActivities.discover_resources, input, **_where(input.pool)
        )
