"""Scale-out: two servers and two workers on one Temporal and one PostgreSQL.

40 changes over 8 projects go through both servers alternately while an intruder keeps
asking for every project's lock through both servers too. Midway one worker is
SIGKILLed (its activity attempts move to the other), later one server is (its callers
go to the other and follow the change they had started). Every change must end
applied, every project must have exactly one lock holder throughout (its owner), and
the state must equal the cloud (moto).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from providers.models import InstalledProvider
from store import identities
from store.db import Database
from store.secrets import generate_key
from tests.support.moto import MotoServer
from tests.support.postgres import PostgresServer
from tests.support.stack import WRITER, free_port

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

PROJECTS = 8
CHANGES_PER_PROJECT = 5
KILL_WORKER_AFTER = 12
KILL_SERVER_AFTER = 26


@dataclass
class Process:
    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen(
                self.argv, env=self.env, stdout=out, stderr=out, start_new_session=True
            )

    def kill(self) -> None:
        """SIGKILL, as an OOM killer or a lost node would (its providers die with it)."""
        assert self.popen is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(10)

    def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class Cluster:
    servers: list[str]
    alive: set[str] = field(default_factory=set)
    turn: itertools.count[int] = field(default_factory=itertools.count)

    def next_server(self) -> str:
        """Alternate between the servers that are still up."""
        live = [s for s in self.servers if s in self.alive]
        return live[next(self.turn) % len(live)]


async def healthy(base: str, seconds: float = 90) -> None:
    async with httpx.AsyncClient(timeout=3) as http:
        for _ in range(int(seconds * 4)):
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get(f"{base}/healthz")).json().get("workers") == "ok":
                    return
            await asyncio.sleep(0.25)
    raise AssertionError(f"{base} did not become healthy")


@contextlib.asynccontextmanager
async def cluster_processes(
    tmp_path: Path,
    env: WorkflowEnvironment,
    database_url: str,
    moto: MotoServer,
    provider: InstalledProvider,
    provider_dir: Path,
    runtime_root: Path,
) -> AsyncIterator[tuple[list[Process], list[Process], list[str]]]:
    shared = {k: v for k, v in os.environ.items() if not k.startswith("INTENT_")}
    shared.update(
        {
            "INTENT_DATABASE_URL": database_url,
            "INTENT_TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
            "INTENT_TEMPORAL_TASK_QUEUE": f"scale-{uuid.uuid4().hex[:8]}",
            "INTENT_SECRET_KEY": generate_key(),
            "INTENT_SANDBOX": "true",
            "INTENT_SANDBOX_URL": moto.url,
            "INTENT_PROVIDER_MIRRORS": str(provider.path.parents[5]),
            "INTENT_PROVIDER_DIR": str(provider_dir),
            "INTENT_REGISTRY_URL": f"http://127.0.0.1:{free_port()}",
            "INTENT_LOG_LEVEL": "WARNING",
        }
    )
    workers, servers, bases = [], [], []
    for i in range(2):
        # Providers run as INTENT_PROVIDER_USER: their sockets live where they can reach.
        runtime = runtime_root / f"scale-{uuid.uuid4().hex[:8]}"
        runtime.mkdir(mode=0o711)
        workers.append(
            Process(
                f"worker{i}",
                [sys.executable, "-m", "cli", "worker"],
                {
                    **shared,
                    "INTENT_DATA_DIR": str(tmp_path / f"worker{i}"),
                    "INTENT_PROVIDER_RUNTIME_DIR": str(runtime),
                },
                tmp_path / f"worker{i}.log",
            )
        )
        port = free_port()
        bases.append(f"http://127.0.0.1:{port}")
        servers.append(
            Process(
                f"server{i}",
                [sys.executable, "-m", "cli", "server", "--port", str(port)],
                {**shared, "INTENT_DATA_DIR": str(tmp_path / f"server{i}")},
                tmp_path / f"server{i}.log",
            )
        )
    try:
        for process in (*workers, *servers):
            process.start()
        await asyncio.gather(*(healthy(base) for base in bases))
        yield workers, servers, bases
    finally:
        for process in (*servers, *workers):
            process.stop()


async def submit(
    cluster: Cluster, tokens: dict[str, str], owner: str, project: str, bucket: str
) -> dict[str, Any]:
    """One change, through the next server; a server that dies under it is left for the
    other, which follows the change the dead one may already have started."""
    operation = {
        "kind": "create",
        "resource_id": bucket,
        "resource_type": "aws_s3_bucket",
        "config": {"bucket": bucket, "tags": {"Project": project}},
    }
    headers = {"Authorization": f"Bearer {tokens[owner]}"}
    while True:
        base = cluster.next_server()
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=180) as http:
            try:
                response = await http.post(
                    f"/api/v1/projects/{project}/changes",
                    json={"operations": [operation], "wait_seconds": 150},
                )
            except httpx.TransportError:
                cluster.alive.discard(base)
                found = await started(cluster, headers, project, bucket)
                if found is None:
                    continue  # never reached the dead server's Temporal client: submit again
                return await follow(cluster, headers, found)
        assert response.is_success, response.text
        body: dict[str, Any] = response.json()
        if body["status"] in ("checking_lease", "discovering", "planning", "applying"):
            return await follow(cluster, headers, body["change_id"])
        return body


async def started(
    cluster: Cluster, headers: dict[str, str], project: str, bucket: str
) -> str | None:
    async with httpx.AsyncClient(
        base_url=cluster.next_server(), headers=headers, timeout=30
    ) as http:
        rows = (await http.get("/api/v1/changes", params={"project": project})).json()
    return next((r["change_id"] for r in rows if f"create {bucket}" in r["operations"]), None)


async def follow(cluster: Cluster, headers: dict[str, str], change_id: str) -> dict[str, Any]:
    for _ in range(600):
        async with httpx.AsyncClient(
            base_url=cluster.next_server(), headers=headers, timeout=30
        ) as http:
            body: dict[str, Any] = (await http.get(f"/api/v1/changes/{change_id}")).json()
        if body["status"] not in ("checking_lease", "discovering", "planning", "applying"):
            return body
        await asyncio.sleep(0.5)
    raise AssertionError(f"change {change_id} did not settle")


async def intrude(
    cluster: Cluster, token: str, projects: list[str], stop: asyncio.Event
) -> list[str]:
    """Ask for every lock, round and round, through both servers: never granted."""
    granted = []
    headers = {"Authorization": f"Bearer {token}"}
    while not stop.is_set():
        for project in projects:
            async with httpx.AsyncClient(
                base_url=cluster.next_server(), headers=headers, timeout=30
            ) as http:
                with contextlib.suppress(httpx.TransportError):
                    response = await http.post(f"/api/v1/projects/{project}/lock")
                    if response.status_code != 423:
                        granted.append(f"{project}: {response.status_code} {response.text}")
        await asyncio.sleep(0.2)
    return granted


async def test_two_servers_two_workers_one_temporal_one_postgres(
    tmp_path: Path,
    temporal_env: WorkflowEnvironment,
    postgres_server: PostgresServer,
    moto_server: MotoServer,
    aws_provider: InstalledProvider,
    shared_provider_dir: Path,
    provider_runtime_dir: Path,
) -> None:
    url = postgres_server.create_database(f"scale_{uuid.uuid4().hex[:10]}")
    db = Database(url)
    await db.migrate()
    owners = [f"owner{i}" for i in range(PROJECTS)]
    tokens: dict[str, str] = {}
    async with db.transaction() as session:
        for name in [*owners, "intruder"]:
            identity = await identities.ensure_identity(session, name, roles=WRITER)
            tokens[name] = await identities.create_token(session, identity, "scale-out")
    run = uuid.uuid4().hex[:6]
    projects = [f"scale-{run}-{i}" for i in range(PROJECTS)]
    try:
        async with cluster_processes(
            tmp_path,
            temporal_env,
            url,
            moto_server,
            aws_provider,
            shared_provider_dir,
            provider_runtime_dir,
        ) as (workers, servers, bases):
            cluster = Cluster(servers=bases, alive=set(bases))
            for owner, project in zip(owners, projects, strict=True):
                async with httpx.AsyncClient(
                    base_url=cluster.next_server(),
                    headers={"Authorization": f"Bearer {tokens[owner]}"},
                ) as http:
                    assert (await http.post("/api/v1/projects", json={"name": project})).is_success
                    assert (await http.post(f"/api/v1/projects/{project}/lock")).is_success

            done: list[dict[str, Any]] = []
            killed: dict[str, Callable[[], None]] = {
                "worker": workers[1].kill,
                "server": servers[0].kill,
            }

            async def drive(owner: str, project: str) -> None:
                for k in range(CHANGES_PER_PROJECT):
                    bucket = f"{project}-{k}"
                    done.append(await submit(cluster, tokens, owner, project, bucket))
                    if len(done) >= KILL_WORKER_AFTER and "worker" in killed:
                        killed.pop("worker")()
                    if len(done) >= KILL_SERVER_AFTER and "server" in killed:
                        killed.pop("server")()

            stop = asyncio.Event()
            intruder = asyncio.create_task(intrude(cluster, tokens["intruder"], projects, stop))
            try:
                await asyncio.gather(*(drive(o, p) for o, p in zip(owners, projects, strict=True)))
            finally:
                stop.set()
                granted = await intruder

            assert not killed, f"not killed: {sorted(killed)}"
            assert len(done) == PROJECTS * CHANGES_PER_PROJECT
            assert [c for c in done if c["status"] != "applied"] == [], done
            assert granted == [], granted
            survivor = next(iter(cluster.alive))
            for owner, project in zip(owners, projects, strict=True):
                async with httpx.AsyncClient(
                    base_url=survivor, headers={"Authorization": f"Bearer {tokens[owner]}"}
                ) as http:
                    lock = (await http.get(f"/api/v1/projects/{project}")).json()["lock"]
                    assert lock["holder"] == owner, (project, lock)
                    listed = (
                        await http.get(
                            f"/api/v1/projects/{project}/resources", params={"limit": 50}
                        )
                    ).json()
                stored = {r["resource_id"] for r in listed["resources"]}
                expected = {f"{project}-{k}" for k in range(CHANGES_PER_PROJECT)}
                assert stored == expected, (project, stored)
            buckets = {b["Name"] for b in moto_server.client("s3").list_buckets()["Buckets"]}
            made = {b for b in buckets if b.startswith(f"scale-{run}-")}
            assert made == {f"{p}-{k}" for p in projects for k in range(CHANGES_PER_PROJECT)}
    finally:
        await db.dispose()
