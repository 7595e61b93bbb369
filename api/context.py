"""What a request handler needs, whichever door (REST, MCP, UI) it came through."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from functools import cached_property

from temporalio.client import Client

from access.models import Principal, SpacePath
from api.auth import Actor, Via, actor_for
from api.errors import Unavailable
from observability.temporal import ClientObserver, telemetry_runtime
from settings import Settings
from store.db import Database
from store.secrets import SecretBox
from workflows.assertions import KEY_PURPOSE, ActorSigner
from workflows.temporal import connect

__all__ = ["AppContext", "Caller", "TemporalConnector"]


class TemporalConnector:
    """Connects on first use, so the server starts (and reports) while Temporal is down."""

    def __init__(self, settings: Settings, client: Client | None = None) -> None:
        self.settings = settings
        self._client = client
        self._lock = asyncio.Lock()

    async def get(self) -> Client:
        if self._client is not None:
            return self._client
        async with self._lock:
            if self._client is None:
                try:
                    self._client = await connect(
                        self.settings,
                        runtime=telemetry_runtime(self.settings, metrics=False),
                        interceptors=[ClientObserver()],
                    )
                except Exception as exc:  # the SDK raises RuntimeError subclasses
                    raise Unavailable(
                        f"Temporal at {self.settings.temporal_target} is not reachable ({exc}); "
                        "start the stack with `intent up` or set INTENT_TEMPORAL_ADDRESS"
                    ) from exc
            return self._client


@dataclass
class AppContext:
    """Process-wide handles, built once in the app's lifespan."""

    settings: Settings
    db: Database
    temporal: TemporalConnector
    box: SecretBox = field(init=False)
    signer: ActorSigner = field(init=False)

    def __post_init__(self) -> None:
        self.box = SecretBox.from_settings(self.settings)
        self.signer = ActorSigner(self.box.derived_key(KEY_PURPOSE))


@dataclass
class Caller:
    """One authenticated request: the process handles plus who is asking, through which
    door. ``principal`` is what permission decisions use; ``actor`` what history records."""

    app: AppContext
    principal: Principal
    via: Via = "api"

    @cached_property
    def actor(self) -> Actor:
        return actor_for(self.principal, self.via)

    def actor_in(self, path: SpacePath) -> Actor:
        """This caller as a workflow of a project in ``path`` must see it: with the roles
        and actions it holds there (signed, they are what validators decide with)."""
        return actor_for(self.principal, self.via, path)

    @property
    def settings(self) -> Settings:
        return self.app.settings

    @property
    def db(self) -> Database:
        return self.app.db

    async def temporal(self) -> Client:
        return await self.app.temporal.get()

    def assertion(self, workflow_id: str, update: str, actor: Actor | None = None) -> str:
        """This caller (or ``actor``, its view for one space), signed for one update of
        one workflow (workflows.assertions)."""
        return self.app.signer.sign(actor or self.actor, workflow_id=workflow_id, update=update)
