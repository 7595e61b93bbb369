"""``ProviderLookupWorkflow``: read-only provider questions answered by the worker.

The server never talks to providers or the registry itself, so a schema description, a
registry search or a data source read is a short workflow running one activity. It is
visible in the Temporal UI like any change, but changes nothing.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.lookup import LookupActivities
    from workflows.models import LookupInput
    from workflows.temporal import pool_queue

__all__ = ["LookupInput", "ProviderLookupWorkflow"]

# One activity per kind of question.
_ANSWERS = {
    "search": LookupActivities.lookup_search,
    "provider": LookupActivities.lookup_provider,
    "resources": LookupActivities.lookup_resources,
    "data_sources": LookupActivities.lookup_data_sources,
    "read_data": LookupActivities.lookup_read_data,
    "lock": LookupActivities.lookup_lock,
}


@workflow.defn
class ProviderLookupWorkflow:
    @workflow.run
    async def run(self, input: LookupInput) -> dict[str, Any]:
        # A project's reads run where its credentials are: on its worker pool, if any,
        # waiting a while for one of its workers.
        pooled: dict[str, Any] = (
            {
                "task_queue": pool_queue(input.pool),
                "schedule_to_start_timeout": timedelta(minutes=5),
            }
            if input.pool
            else {}
        )
        return await workflow.execute_activity_method(
            _ANSWERS[input.kind],
            input,
            start_to_close_timeout=timedelta(minutes=5),
            retry_policy=RetryPolicy(
                maximum_attempts=3,
                non_retryable_error_types=["InvalidLookup", "ProviderError"],
            ),
            **pooled,
        )
