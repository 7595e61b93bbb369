"""Asking the worker a question: start a short workflow and wait for its answer.

The server never launches providers or opens sealed configs; whatever needs them (a
provider lookup, an export, a discovery) is a one-activity workflow. Its refusals
(``ApplicationError``) reach the caller as ``Invalid`` with the worker's own words.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from api.context import Caller
from api.errors import Invalid, Unavailable
from store.models import Project
from store.types import new_id
from workflows.assertions import question

__all__ = ["ask"]


async def ask(
    caller: Caller,
    run: Any,
    input: Any,
    *,
    kind: str,
    update: str,
    summary: str,
    project_id: str | None = None,
) -> Any:
    """Run workflow ``run`` with ``input`` (id ``KIND-<ulid>``) and return its result;
    ``kind`` also names it in errors ("the provider lookup failed: …").

    ``input`` gets, for a project on a worker pool, the pool (where the project's
    credentials are) and then the server's signature for this workflow and this whole
    input (``update`` names the question: its activity answers nothing else)."""
    client = await caller.temporal()
    workflow_id = f"{kind.replace(' ', '-')}-{new_id()}"
    pool = None
    if project_id:
        async with caller.db.session() as session:
            project = await session.get(Project, project_id)
        pool = project.pool if project is not None else None
    routed = input.model_copy(update={"pool": pool})
    signed = routed.model_copy(
        update={"assertion": caller.assertion(workflow_id, question(update, routed))}
    )
    try:
        return await client.execute_workflow(
            run,
            signed,
            id=workflow_id,
            task_queue=caller.settings.temporal_task_queue,
            execution_timeout=timedelta(minutes=10),
            static_summary=f"{caller.actor.name}: {summary}"[:200],
        )
    except WorkflowFailureError as exc:
        cause: BaseException | None = exc.cause
        while cause is not None and not isinstance(cause, ApplicationError):
            cause = getattr(cause, "cause", None)
        if isinstance(cause, ApplicationError):
            raise Invalid(cause.message) from exc
        raise Unavailable(f"the {kind} failed: {exc.cause or exc}") from exc
    except RPCError as exc:
        raise Unavailable(f"the {kind} could not start: {exc}") from exc
