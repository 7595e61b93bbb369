"""Provider questions (registry search, schema views, data source reads).

Answered by the worker through ``ProviderLookupWorkflow``: the server never launches a
provider or calls the registry itself.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from api.context import Caller
from api.errors import Invalid, Unavailable
from store.types import new_id
from workflows.lookup import LookupInput, ProviderLookupWorkflow

__all__ = ["lookup"]


async def lookup(caller: Caller, input: LookupInput) -> dict[str, Any]:
    client = await caller.temporal()
    try:
        return await client.execute_workflow(
            ProviderLookupWorkflow.run,
            input,
            id=f"lookup-{input.kind}-{new_id()}",
            task_queue=caller.settings.temporal_task_queue,
            execution_timeout=timedelta(minutes=10),
            static_summary=f"{caller.actor.name}: {input.kind} {input.provider or input.query}"[
                :200
            ],
        )
    except WorkflowFailureError as exc:
        cause: BaseException | None = exc.cause
        while cause is not None and not isinstance(cause, ApplicationError):
            cause = getattr(cause, "cause", None)
        if isinstance(cause, ApplicationError):
            raise Invalid(cause.message) from exc
        raise Unavailable(f"the provider lookup failed: {exc.cause or exc}") from exc
    except RPCError as exc:
        raise Unavailable(f"the provider lookup could not start: {exc}") from exc
