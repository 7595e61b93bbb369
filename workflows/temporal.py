"""How every process reaches Temporal: one data converter, one set of search attributes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client, Interceptor, WorkflowUpdateFailedError
from temporalio.common import SearchAttributeKey
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError
from temporalio.runtime import Runtime

from settings import Settings

__all__ = [
    "SA_ACTOR",
    "SA_OPERATION",
    "SA_PROJECT",
    "SA_STATUS",
    "SEARCH_ATTRIBUTES",
    "connect",
    "dev_server_search_attribute_args",
    "ensure_search_attributes",
    "pool_queue",
    "resend_unprocessed",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

# Temporal's failure type for an update that reached a worker which went away (killed,
# or its sticky task lost) before taking it: nothing ran, so sending it again is safe.
UNPROCESSED_UPDATE = "UnprocessedUpdate"
_RESEND_DELAYS = (0.2, 0.5, 1.0, 2.0, 4.0, 8.0)

# Operators filter change runs in the Temporal UI by these, e.g.
#   IntentProject = "01J..." AND IntentStatus = "failed"
SA_PROJECT = SearchAttributeKey.for_keyword("IntentProject")
SA_OPERATION = SearchAttributeKey.for_keyword_list("IntentOperation")
SA_STATUS = SearchAttributeKey.for_keyword("IntentStatus")
SA_ACTOR = SearchAttributeKey.for_keyword("IntentActor")

SEARCH_ATTRIBUTES: dict[str, IndexedValueType.ValueType] = {
    SA_PROJECT.name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    SA_OPERATION.name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
    SA_STATUS.name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    SA_ACTOR.name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
}


def pool_queue(pool: str) -> str:
    """The task queue of a worker pool: ``intent worker --pool NAME`` serves it."""
    return f"intent-pool-{pool}"


_DEV_SERVER_TYPES = {
    IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD: "Keyword",
    IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST: "KeywordList",
}


def dev_server_search_attribute_args() -> list[str]:
    """``--search-attribute NAME=TYPE`` flags for ``temporal server start-dev``."""
    args: list[str] = []
    for name, kind in SEARCH_ATTRIBUTES.items():
        args += ["--search-attribute", f"{name}={_DEV_SERVER_TYPES[kind]}"]
    return args


async def connect(
    settings: Settings,
    *,
    target: str | None = None,
    runtime: Runtime | None = None,
    interceptors: Sequence[Interceptor] = (),
) -> Client:
    """A client on ``runtime`` (the worker's exports metrics), tracing when it is on."""
    from observability.tracing import temporal_interceptors

    return await Client.connect(
        target or settings.temporal_target,
        namespace=settings.temporal_namespace,
        data_converter=pydantic_data_converter,
        runtime=runtime,
        interceptors=[*interceptors, *temporal_interceptors()],
    )


async def ensure_search_attributes(client: Client, namespace: str) -> None:
    """Register missing search attributes (a no-op on a dev server started by ``intent up``).

    On a real cluster the worker does this at start so operators never hand-register.
    """
    existing = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=namespace)
    )
    missing = {
        name: kind
        for name, kind in SEARCH_ATTRIBUTES.items()
        if name not in existing.custom_attributes
    }
    if not missing:
        return
    log.info("registering search attributes %s in %s", sorted(missing), namespace)
    await client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(namespace=namespace, search_attributes=missing)
    )


def _unprocessed(exc: WorkflowUpdateFailedError) -> bool:
    cause = exc.cause
    return isinstance(cause, ApplicationError) and cause.type == UNPROCESSED_UPDATE


async def resend_unprocessed(send: Callable[[], Awaitable[T]]) -> T:
    """Send an update, again while Temporal says no worker took it (a worker died mid-call).

    Without this a caller who happens to ask during a worker restart gets Temporal's
    rejection instead of the answer the surviving worker gives a moment later.
    """
    for delay in _RESEND_DELAYS:
        try:
            return await send()
        except WorkflowUpdateFailedError as exc:
            if not _unprocessed(exc):
                raise
            log.info("update not taken by a worker (%s); sending it again in %ss", exc, delay)
        await asyncio.sleep(delay)
    return await send()
