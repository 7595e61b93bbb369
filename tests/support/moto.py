"""A moto server (fake AWS APIs) on 127.0.0.1 for the whole test session."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.support.requirements import require

__all__ = ["MotoServer", "moto_server", "start_moto"]

REGION = "us-east-1"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class MotoServer:
    url: str
    process: subprocess.Popen[bytes] | None = None

    @property
    def env(self) -> dict[str, str]:
        """The provider environment that points hashicorp/aws at this server."""
        return {
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_REGION": REGION,
            "AWS_ENDPOINT_URL": self.url,
        }

    @property
    def provider_config(self) -> dict[str, Any]:
        """hashicorp/aws provider config that works against moto."""
        return {
            "region": REGION,
            "skip_credentials_validation": True,
            "skip_requesting_account_id": True,
            "skip_metadata_api_check": True,
            "s3_use_path_style": True,
        }

    def client(self, service: str) -> Any:
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )

    def reset(self) -> None:
        """Forget every fake resource (moto's reset API)."""
        req = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")
        urllib.request.urlopen(req, timeout=10).close()

    def enforce_iam(self) -> None:
        """From now on every request needs valid credentials, allowed by IAM policies
        (moto's INITIAL_NO_AUTH_ACTION_COUNT, set to 0 through its API)."""
        req = urllib.request.Request(
            f"{self.url}/moto-api/reset-auth",
            data=b"0",
            method="POST",
            headers={"Content-Type": "text/plain"},
        )
        urllib.request.urlopen(req, timeout=10).close()

    def assumed_roles(self) -> list[dict[str, Any]]:
        """Every role session STS issued, as moto records it (role, session name,
        external id, and the credentials themselves)."""
        with urllib.request.urlopen(f"{self.url}/moto-api/data.json", timeout=10) as answer:
            data = json.load(answer)
        found: list[dict[str, Any]] = data.get("sts", {}).get("AssumedRole", [])
        return found

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def _moto_importable() -> bool:
    try:
        import moto.server  # noqa: F401
    except ImportError:
        return False
    return True


def start_moto(timeout: float = 30.0) -> MotoServer:
    """Start ``python -m moto.server`` on a free port and wait until it answers."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    server = MotoServer(url=f"http://127.0.0.1:{port}", process=proc)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"moto server exited with code {proc.returncode}")
        with contextlib.suppress(urllib.error.URLError, ConnectionError, OSError):
            urllib.request.urlopen(f"{server.url}/moto-api/", timeout=1).close()
            return server
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"moto server did not answer on {server.url} within {timeout:.0f}s")


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    require(_moto_importable(), "moto[server] (python -m moto.server)")
    server = start_moto()
    try:
        yield server
    finally:
        server.stop()
