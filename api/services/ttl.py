"""Project TTL rules and clock: a project that expires is emptied (one delete change,
under its policies) and archived. Given as a duration (``2h``, ``7d``) or a timestamp.

Bounds: at least ``INTENT_PROJECT_MIN_TTL_SECONDS`` away, at most the space's maximum
(``INTENT_PROJECT_MAX_TTL``). The clock is ``ProjectTTLWorkflow`` (``ttl-<project id>``),
told of every change. Who may set or extend a TTL: ``api/services/lifecycle.py``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError, RPCStatusCode

from access.models import SpacePath
from api.context import Caller
from api.errors import Invalid, Unavailable
from settings import Settings
from store.models import Project
from store.types import utcnow
from workflows.models import TtlInput, TtlReschedule, ttl_workflow_id

__all__ = [
    "checked_expiry",
    "expiry_from",
    "max_ttl",
    "notice",
    "parse_duration",
    "start_clock",
    "stop_clock",
]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"^(?:(\d+)([smhdw]))+$")
_PART = re.compile(r"(\d+)([smhdw])")


def parse_duration(text: str) -> timedelta | None:
    """``90s``, ``30m``, ``2h``, ``7d``, ``1w``, or combined (``1d12h``); None if it is
    not one."""
    compact = text.strip().lower().replace(" ", "")
    if not _DURATION.match(compact):
        return None
    return timedelta(seconds=sum(int(n) * _UNITS[u] for n, u in _PART.findall(compact)))


def expiry_from(text: str, now: datetime) -> datetime:
    """When a TTL of ``text`` (a duration or an ISO 8601 timestamp) ends."""
    try:
        duration = parse_duration(text)
        if duration is not None:
            return now + duration
    except OverflowError:
        raise Invalid(
            f"a TTL of {text.strip()} ends beyond any calendar; give a duration like 7d or "
            "a timestamp"
        ) from None
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise Invalid(
            "a TTL is a duration like 2h, 7d or 1d12h (s, m, h, d, w), or a timestamp like "
            "2026-12-24T18:00:00Z"
        ) from None
    if moment.tzinfo is None:
        raise Invalid("give the TTL's timestamp a time zone, e.g. 2026-12-24T18:00:00Z")
    return moment.astimezone(UTC)


def max_ttl(settings: Settings, path: SpacePath) -> tuple[timedelta | None, str]:
    """The longest TTL projects in the last space of ``path`` may carry (None: no bound)
    and where that bound is set: the nearest space on the path named (by name or id) in
    INTENT_PROJECT_MAX_TTL, else its '*' entry."""
    bounds = settings.project_max_ttl
    where, text = "*", bounds.get("*")
    for space in reversed(path):
        for key in (space.name, space.id):
            if key in bounds:
                where, text = f"space {space.name}", bounds[key]
                break
        else:
            continue
        break
    if not text:
        return None, where
    bound = parse_duration(text)
    if bound is None:
        raise Invalid(f"INTENT_PROJECT_MAX_TTL for {where} is not a duration: {text!r}")
    return bound, where


def checked_expiry(
    settings: Settings, path: SpacePath, expires_at: datetime, now: datetime
) -> None:
    """Refuse an expiry too soon, or further than the project's space allows."""
    left = (expires_at - now).total_seconds()
    if left < settings.project_min_ttl_seconds:
        raise Invalid(
            f"the TTL must end at least {settings.project_min_ttl_seconds:g} s from now "
            f"(it would end at {expires_at.isoformat()})"
        )
    bound, where = max_ttl(settings, path)
    if bound is not None and expires_at - now > bound:
        space = path[-1].name if path else "root"
        raise Invalid(
            f"projects in space {space} may live at most {bound} from now (INTENT_PROJECT_MAX_TTL "
            f"for {where}); pick an earlier end"
        )


def notice(name: str, expires_at: datetime, settings: Settings) -> str | None:
    """What users are told about an approaching expiry, inside the warning window."""
    left = (expires_at - utcnow()).total_seconds()
    window = max(settings.ttl_warning_seconds, default=0.0)
    if left > window:
        return None
    when = expires_at.strftime("%Y-%m-%d %H:%M UTC")
    if left <= 0:
        return (
            f"project {name} expired at {when}: its resources are being deleted and it will "
            "be archived"
        )
    return (
        f"project {name} expires at {when} (in {_human(left)}): then every resource in it is "
        "deleted and it is archived. Tell the user; to keep it, someone allowed to extend "
        "TTLs must move the expiry"
    )


def _human(seconds: float) -> str:
    if seconds >= 86400:
        return f"{seconds / 86400:.1f} days"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} hours"
    return f"{max(1, round(seconds / 60))} minutes"


async def start_clock(caller: Caller, project: Project) -> None:
    """Tell the project's TTL workflow its (new) expiry, starting it if need be."""
    # Here, not at the top: the workflow's activities act through the services (changes,
    # locks), which load this module.
    from workflows.ttl import ProjectTTLWorkflow

    client = await caller.temporal()
    settings = caller.settings
    reschedule = TtlReschedule(expires_at=project.expires_at)
    try:
        await client.start_workflow(
            ProjectTTLWorkflow.run,
            TtlInput(
                project_id=project.id,
                project_name=project.name,
                expires_at=project.expires_at,
                warnings_seconds=sorted(settings.ttl_warning_seconds, reverse=True),
                grace_seconds=settings.ttl_grace_seconds,
            ),
            id=ttl_workflow_id(project.id),
            task_queue=settings.temporal_task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            start_signal="reschedule",
            start_signal_args=[reschedule],
            static_summary=f"{project.name}: TTL",
        )
    except RPCError as exc:
        raise Unavailable(f"the project's TTL clock could not be set: {exc}") from exc


async def stop_clock(caller: Caller, project: Project) -> None:
    """Stop a deleted project's TTL clock (there may be none)."""
    from workflows.ttl import ProjectTTLWorkflow

    client = await caller.temporal()
    handle = client.get_workflow_handle_for(ProjectTTLWorkflow.run, ttl_workflow_id(project.id))
    try:
        await handle.signal(ProjectTTLWorkflow.reschedule, TtlReschedule(expires_at=None))
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise Unavailable(f"the project's TTL clock could not be stopped: {exc}") from exc
