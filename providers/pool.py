"""A pool of warm, configured provider processes.

Starting hashicorp/aws and configuring it costs hundreds of milliseconds and
~0.3 GiB of memory, while a plan against a warm process takes milliseconds. The pool
keeps one configured process per (provider address, version, binary, config hash —
the hash covers the provider config *and* its environment —, credential identity: the
cloud session it acts as, so one change's credentials never reach another change's
process) and hands out ``ProviderClient``s for it:

    async with pool.client(installed, config={"region": "us-east-1"}, env=creds) as c:
        change = await c.plan("aws_s3_bucket", None, {"bucket": "b1"})

- bounded: at most ``provider_pool_size`` processes; the least recently used idle one
  is stopped to make room, and callers wait when all are busy;
- idle processes are stopped after ``provider_idle_seconds``, those of a credential
  identity (one change's cloud session, of no use once the change is done) after
  ``provider_session_idle_seconds``;
- every process runs at most ``provider_concurrency`` RPCs at once;
- a process that exited or whose channel broke is replaced on next use;
- ``aclose()`` stops everything (and parent-death signals cover a crashed worker).

Use one pool per event loop (gRPC aio channels belong to the loop that made them).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from observability.metrics import worker_metrics
from providers.client import ProviderClient
from providers.errors import ProviderError
from providers.launcher import (
    ProviderAccounts,
    ProviderProcess,
    RunAs,
    launch_provider,
    resolve_accounts,
)
from providers.models import InstalledProvider
from providers.schema import ProviderSchema, SchemaCache

__all__ = ["PoolKey", "ProviderPool", "config_hash"]

log = logging.getLogger(__name__)

PoolKey = tuple[str, str, str, str, str]


def config_hash(config: Mapping[str, Any] | None, env: Mapping[str, str] | None) -> str:
    """A stable digest of provider config + environment (secrets never stored)."""
    doc = json.dumps(
        {"config": config or {}, "env": dict(env or {})},
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(doc.encode()).hexdigest()


@dataclass
class _Entry:
    key: PoolKey
    client: ProviderClient
    leases: int = 0
    last_used: float = field(default_factory=time.monotonic)

    @property
    def idle_for(self) -> float:
        if self.leases or self.client.in_flight:
            return 0.0
        return time.monotonic() - max(self.last_used, self.client.last_used)


class ProviderPool:
    """Warm configured provider processes; see the module docstring."""

    def __init__(
        self,
        settings: Any = None,
        *,
        size: int | None = None,
        idle_seconds: float | None = None,
        session_idle_seconds: float | None = None,
        concurrency: int | None = None,
        schema_cache: SchemaCache | None = None,
        runtime_dir: Path | None = None,
        handshake_timeout: float = 60.0,
        acquire_timeout: float = 600.0,
        accounts: ProviderAccounts | None = None,
    ) -> None:
        def pick(value: Any, name: str, default: Any) -> Any:
            if value is not None:
                return value
            return getattr(settings, name, default) if settings is not None else default

        self.size = max(1, int(pick(size, "provider_pool_size", 8)))
        self.idle_seconds = float(pick(idle_seconds, "provider_idle_seconds", 600.0))
        self.session_idle_seconds = min(
            self.idle_seconds,
            float(pick(session_idle_seconds, "provider_session_idle_seconds", 120.0)),
        )
        self.concurrency = max(1, int(pick(concurrency, "provider_concurrency", 8)))
        if schema_cache is None:
            schema_cache = (
                SchemaCache.from_settings(settings)
                if settings is not None
                else SchemaCache(Path(".intent") / "provider-schemas")
            )
        self.schemas = schema_cache
        self.runtime_dir = runtime_dir
        # Providers never run as root: the settings name the accounts they run as.
        self.accounts = accounts or (
            resolve_accounts(
                str(settings.provider_user),
                uid_range=settings.provider_uid_range,
                allow_root=settings.provider_allow_root,
            )
            if settings is not None
            else None
        )
        self.handshake_timeout = handshake_timeout
        self.acquire_timeout = acquire_timeout
        self._entries: dict[PoolKey, _Entry] = {}
        self._launching = 0
        self._key_locks: dict[PoolKey, asyncio.Lock] = {}
        self._schema_locks: dict[str, asyncio.Lock] = {}
        self._validated: set[str] = set()
        self._changed = asyncio.Condition()
        self._reaper: asyncio.Task[None] | None = None
        self._closed = False

    def _account(self) -> RunAs | None:
        """The account the next provider process runs as (None: the worker's own)."""
        if self.accounts is None:
            return None
        in_use = {p.run_as.uid for p in self.processes if p.run_as is not None}
        return self.accounts.next(in_use)

    # -- introspection ----------------------------------------------------------------
    @property
    def processes(self) -> list[ProviderProcess]:
        return [e.client.process for e in self._entries.values()]

    def __len__(self) -> int:
        return len(self._entries)

    # -- schema -----------------------------------------------------------------------
    async def schema(self, installed: InstalledProvider) -> ProviderSchema:
        """The provider's schema: from the disk cache, else fetched once from a
        short-lived unconfigured process and cached."""
        cached = self.schemas.get(installed.sha256)
        if cached is not None:
            return cached
        lock = self._schema_locks.setdefault(installed.sha256, asyncio.Lock())
        async with lock:
            cached = self.schemas.get(installed.sha256)
            if cached is not None:
                return cached
            process = await launch_provider(
                installed,
                runtime_dir=self.runtime_dir,
                handshake_timeout=self.handshake_timeout,
                run_as=self._account(),
            )
            try:
                return await self._fetch_schema(process)
            finally:
                await process.stop()

    async def _fetch_schema(self, process: ProviderProcess) -> ProviderSchema:
        response = await process.rpc.get_schema()
        # Writing ~10 MB of per-type JSON takes a moment: keep the event loop free.
        return await asyncio.to_thread(
            self.schemas.put, process.installed.sha256, process.protocol_version, response
        )

    async def _schema_for(self, process: ProviderProcess) -> ProviderSchema:
        sha = process.installed.sha256
        cached = self.schemas.get(sha)
        if cached is None:
            lock = self._schema_locks.setdefault(sha, asyncio.Lock())
            async with lock:
                cached = self.schemas.get(sha)
                if cached is None:
                    return await self._fetch_schema(process)
        if not cached.capabilities.get_provider_schema_optional:
            # Such providers need GetProviderSchema before anything else, every start.
            await process.rpc.get_schema()
        return cached

    # -- leasing ----------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def client(
        self,
        installed: InstalledProvider,
        config: Mapping[str, Any] | None = None,
        env: Mapping[str, str] | None = None,
        identity: str = "",
    ) -> AsyncIterator[ProviderClient]:
        """Lease a configured client for ``installed`` with this config and env, acting
        as ``identity`` (the cloud session whose credentials it gets; "" for none)."""
        entry = await self._acquire(installed, config, env, identity)
        try:
            yield entry.client
        finally:
            entry.leases -= 1
            entry.last_used = time.monotonic()
            async with self._changed:
                self._changed.notify_all()

    async def _acquire(
        self,
        installed: InstalledProvider,
        config: Mapping[str, Any] | None,
        env: Mapping[str, str] | None,
        identity: str,
    ) -> _Entry:
        if self._closed:
            raise RuntimeError("provider pool is closed")
        self._ensure_reaper()
        # A process that died idle is noticed now, not at the next reaping: with a
        # process per cloud session, the next lease rarely asks for the same key.
        for dead in [e for e in self._entries.values() if not e.client.alive and not e.leases]:
            log.warning("provider %s is gone", dead.client.process.label)
            await self._evict(dead, crashed=True)
        digest = config_hash(config, env)
        key: PoolKey = (
            str(installed.address),
            installed.version,
            installed.sha256,
            digest,
            identity,
        )
        lock = self._key_locks.setdefault(key, asyncio.Lock())
        async with lock:
            entry = self._entries.get(key)
            if entry is not None and not entry.client.alive:
                log.warning("provider %s is gone; starting a new one", entry.client.process.label)
                await self._evict(entry, crashed=True)
                entry = None
            if entry is None:
                entry = await self._launch(key, installed, config, env, digest)
            entry.leases += 1
            entry.last_used = time.monotonic()
            return entry

    async def _launch(
        self,
        key: PoolKey,
        installed: InstalledProvider,
        config: Mapping[str, Any] | None,
        env: Mapping[str, str] | None,
        digest: str,
    ) -> _Entry:
        await self._reserve_slot()
        try:
            process = await launch_provider(
                installed,
                env,
                runtime_dir=self.runtime_dir,
                handshake_timeout=self.handshake_timeout,
                run_as=self._account(),
            )
            try:
                schema = await self._schema_for(process)
                client = ProviderClient(process, schema, concurrency=self.concurrency)
                # Validating provider config can be slow (seconds for aws with custom
                # endpoints): do it once per config, not once per process.
                await client.configure(dict(config or {}), validate=digest not in self._validated)
                self._validated.add(digest)
            except BaseException:
                await process.stop(grace=1.0)
                raise
            entry = _Entry(key=key, client=client)
            self._entries[key] = entry
            metrics = worker_metrics()
            metrics.provider_launches.add(1, {"provider": installed.address.short})
            metrics.provider_processes.set(len(self._entries))
            return entry
        finally:
            self._launching -= 1
            async with self._changed:
                self._changed.notify_all()

    async def _reserve_slot(self) -> None:
        """Wait for room for one more process and reserve it (``_launching``).

        Makes room by stopping the least recently used idle process; stopping happens
        outside the condition lock so lease releases are never held up by it.
        """
        deadline = time.monotonic() + self.acquire_timeout
        while True:
            victim: _Entry | None = None
            async with self._changed:
                if len(self._entries) + self._launching < self.size:
                    self._launching += 1
                    return
                idle = [
                    e for e in self._entries.values() if e.leases == 0 and not e.client.in_flight
                ]
                if idle:
                    victim = min(idle, key=lambda e: e.last_used)
                    del self._entries[victim.key]
                    worker_metrics().provider_processes.set(len(self._entries))
                else:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise ProviderError(
                            f"all {self.size} provider processes are busy; raise "
                            "INTENT_PROVIDER_POOL_SIZE or retry later"
                        )
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._changed.wait(), remaining)
            if victim is not None:
                log.info("provider pool full: stopping idle %s", victim.client.process.label)
                await victim.client.process.stop()

    async def _evict(self, entry: _Entry, *, crashed: bool = False) -> None:
        held = self._entries.get(entry.key) is entry
        if held:
            del self._entries[entry.key]
        metrics = worker_metrics()
        if crashed and held:  # a crash counts once, whoever noticed it first
            metrics.provider_crashes.add(1, {"provider": entry.client.installed.address.short})
        metrics.provider_processes.set(len(self._entries))
        await entry.client.process.stop(grace=1.0)

    # -- idle reaping -----------------------------------------------------------------
    def _ensure_reaper(self) -> None:
        if self._reaper is None or self._reaper.done():
            self._reaper = asyncio.create_task(self._reap_loop(), name="provider-pool-reaper")

    async def _reap_loop(self) -> None:
        interval = max(0.2, min(self.session_idle_seconds / 4, 30.0))
        while not self._closed:
            await asyncio.sleep(interval)
            try:
                await self.reap()
            except Exception:  # pragma: no cover - keep reaping whatever happened
                log.exception("provider pool reaper failed")

    async def reap(self) -> int:
        """Stop processes idle longer than ``idle_seconds`` and dead ones; returns how
        many were stopped."""
        victims = [
            e
            for e in list(self._entries.values())
            if (e.idle_for > (self.session_idle_seconds if e.key[4] else self.idle_seconds))
            or (not e.client.alive and e.leases == 0)
        ]
        for entry in victims:
            log.info("stopping idle provider %s", entry.client.process.label)
            await self._evict(entry, crashed=not entry.client.alive)
        if victims:
            async with self._changed:
                self._changed.notify_all()
        return len(victims)

    # -- shutdown ---------------------------------------------------------------------
    async def aclose(self) -> None:
        """Stop every process. The pool cannot be used afterwards."""
        self._closed = True
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(BaseException):
                await self._reaper
        entries = list(self._entries.values())
        self._entries.clear()
        worker_metrics().provider_processes.set(0)
        await asyncio.gather(*(e.client.process.stop() for e in entries), return_exceptions=True)

    async def __aenter__(self) -> ProviderPool:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
