"""A throwaway PostgreSQL server started with ``initdb``/``pg_ctl`` for the session.

Sessions run as root and ``initdb`` refuses root, so the cluster is created and run as
the ``postgres`` user in a directory that user owns.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.requirements import require

__all__ = ["PostgresServer", "postgres_server"]


@dataclass
class PostgresServer:
    host: str
    port: int
    user: str

    def url(self, database: str) -> str:
        return f"postgresql+asyncpg://{self.user}@{self.host}:{self.port}/{database}"

    def psql(self, sql: str, database: str = "postgres") -> None:
        subprocess.run(
            [
                _tool("psql"),
                "-h",
                self.host,
                "-p",
                str(self.port),
                "-U",
                self.user,
                "-d",
                database,
                "-v",
                "ON_ERROR_STOP=1",
                "-q",
                "-c",
                sql,
            ],
            check=True,
            capture_output=True,
        )

    def create_database(self, name: str) -> str:
        self.psql(f'CREATE DATABASE "{name}"')
        return self.url(name)


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    for candidate in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True):
        return str(candidate)
    return ""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_postgres() -> list[str]:
    # initdb refuses to run as root; elsewhere run as ourselves.
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    require(_tool("initdb") and _tool("pg_ctl"), "PostgreSQL server binaries (initdb, pg_ctl)")
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            owner = None
        require(owner, "the postgres system user")
    base = Path(tempfile.mkdtemp(prefix="intent-pg-"))
    data = base / "data"
    if os.geteuid() == 0 and owner is not None:
        os.chown(base, owner.pw_uid, owner.pw_gid)
    base.chmod(0o700)
    port = _free_port()
    subprocess.run(
        [
            *_as_postgres(),
            _tool("initdb"),
            "-D",
            str(data),
            "-A",
            "trust",
            "-U",
            "intent",
            "--no-sync",
            "-E",
            "UTF8",
        ],
        check=True,
        capture_output=True,
    )
    options = f"-h 127.0.0.1 -p {port} -k {base} -c fsync=off -c full_page_writes=off"
    subprocess.run(
        [
            *_as_postgres(),
            _tool("pg_ctl"),
            "-D",
            str(data),
            "-o",
            options,
            "-l",
            str(base / "server.log"),
            "-w",
            "-t",
            "60",
            "start",
        ],
        check=True,
        capture_output=True,
    )
    server = PostgresServer(host="127.0.0.1", port=port, user="intent")
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                server.psql("SELECT 1")
                break
            except subprocess.CalledProcessError:
                time.sleep(0.2)
        yield server
    finally:
        subprocess.run(
            [*_as_postgres(), _tool("pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
        )
        shutil.rmtree(base, ignore_errors=True)
