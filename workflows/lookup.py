"""``ProviderLookupWorkflow``: read-only provider questions answered by the worker.

The server never talks to providers or the registry itself, so a schema description, a
registry search or a data source read is a short workflow running one activity. It is
visible in the Temporal UI like any change, but changes nothing.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel

__all__ = ["LookupInput", "ProviderLookupWorkflow"]

LookupKind = Literal["search", "provider", "resources", "data_sources", "read_data", "lock"]


class LookupInput(BaseModel):
    kind: LookupKind
    project_id: str | None = None
    provider: str | None = None
    version: str | None = None
    query: str = ""
    types: list[str] = []
    limit: int = 50
    cursor: str | None = None
    data_source: str | None = None
    config: dict[str, Any] | None = None


@workflow.defn
class ProviderLookupWorkflow:
    @workflow.run
    async def run(self, input: LookupInput) -> dict[str, Any]:
        result: dict[str, Any] = await workflow.execute_activity(
            f"lookup_{input.kind}",
            input,
            start_to_close_timeout=timedelta(minutes=5),
            retry_policy=RetryPolicy(
                maximum_attempts=3,
                non_retryable_error_types=["InvalidLookup", "ProviderError"],
            ),
        )
        return result
