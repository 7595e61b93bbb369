"""docker-compose.yml cannot run here (no Docker engine); it must at least be valid."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

from tests.support.requirements import require

ROOT = Path(__file__).resolve().parent.parent


def test_compose_file_is_valid() -> None:
    binary = shutil.which("docker-compose")
    require(binary, "docker-compose (Debian package)")
    result = subprocess.run(
        [str(binary), "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr


def test_compose_runs_the_production_shape() -> None:
    spec = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = spec["services"]
    assert {"postgresql", "temporal", "temporal-ui", "intent-server", "intent-worker"} <= set(
        services
    )
    for name in ("intent-server", "intent-worker"):
        env = services[name]["environment"]
        assert env["INTENT_DATABASE_URL"].startswith("postgresql+asyncpg://")
        assert env["INTENT_TEMPORAL_ADDRESS"] == "temporal:7233"
        assert env["INTENT_SANDBOX"] == "false"  # never the sandbox cloud in production
    assert services["temporal"]["image"].startswith("temporalio/server")
    dockerfile = (ROOT / "Dockerfile").read_text()
    for package in (
        "api",
        "workflows",
        "activities",
        "providers",
        "policies",
        "store",
        "cli",
        "observability",
    ):
        assert f"COPY {package} ./{package}" in dockerfile
