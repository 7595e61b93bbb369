"""An update Temporal reports as unprocessed (its worker died) is sent again; others are not."""

from __future__ import annotations

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

import workflows.temporal as temporal
from workflows.temporal import UNPROCESSED_UPDATE, resend_unprocessed


@pytest.fixture(autouse=True)
def _no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(temporal, "_RESEND_DELAYS", (0.0, 0.0, 0.0))


def _failure(kind: str) -> WorkflowUpdateFailedError:
    return WorkflowUpdateFailedError(ApplicationError("refused", type=kind))


async def test_unprocessed_update_is_sent_again_until_a_worker_answers() -> None:
    calls: list[int] = []

    async def send() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise _failure(UNPROCESSED_UPDATE)
        return "lease"

    assert await resend_unprocessed(send) == "lease"
    assert len(calls) == 3


async def test_a_real_refusal_is_not_sent_again() -> None:
    calls: list[int] = []

    async def send() -> str:
        calls.append(1)
        raise _failure("LockBusy")

    with pytest.raises(WorkflowUpdateFailedError):
        await resend_unprocessed(send)
    assert len(calls) == 1


async def test_gives_up_with_temporals_error_after_the_last_attempt() -> None:
    calls: list[int] = []

    async def send() -> str:
        calls.append(1)
        raise _failure(UNPROCESSED_UPDATE)

    with pytest.raises(WorkflowUpdateFailedError):
        await resend_unprocessed(send)
    assert len(calls) == 4  # three delays, then the last word
