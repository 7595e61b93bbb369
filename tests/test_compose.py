"""docker-compose.yml cannot run here (no Docker engine); it must at least be valid, and
production-shaped: pinned images, required secrets, limits, health, the scale-out topology."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.support.requirements import require

ROOT = Path(__file__).resolve().parent.parent
SECRETS = {"POSTGRES_PASSWORD": "pw", "INTENT_SECRET_KEY": "key"}


def compose_config(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("docker-compose")
    require(binary, "docker-compose (Debian package)")
    clean = {k: v for k, v in os.environ.items() if k not in SECRETS}
    return subprocess.run(
        [str(binary), "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**clean, **env},
    )


def test_compose_file_is_valid() -> None:
    result = compose_config(SECRETS)
    assert result.returncode == 0, result.stderr


def test_required_secrets_fail_fast() -> None:
    for missing in SECRETS:
        result = compose_config({k: v for k, v in SECRETS.items() if k != missing})
        assert result.returncode != 0
        assert f"set {missing}" in result.stderr, result.stderr


def services() -> dict[str, Any]:
    spec: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    found: dict[str, Any] = spec["services"]
    return found


def test_compose_runs_the_production_shape() -> None:
    found = services()
    assert {
        "postgresql",
        "temporal",
        "temporal-ui",
        "intent-server",
        "intent-worker",
        "proxy",
    } <= set(found)
    for name in ("intent-server", "intent-worker"):
        env = found[name]["environment"]
        assert env["INTENT_DATABASE_URL"].startswith("postgresql+asyncpg://")
        assert env["INTENT_TEMPORAL_ADDRESS"] == "temporal:7233"
        assert env["INTENT_SANDBOX"] == "false"  # never the sandbox cloud in production
        assert env["INTENT_SECRET_KEY"].startswith("${INTENT_SECRET_KEY:?")
        # The scale-out topology: two of each on one Temporal and one PostgreSQL.
        assert found[name]["deploy"]["replicas"] == 2
        assert "ports" not in found[name]  # only the TLS proxy is published
    assert found["temporal"]["image"].startswith("temporalio/server")
    dockerfile = (ROOT / "Dockerfile").read_text()
    for package in (
        "access",
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


def test_images_pinned_limits_health_and_metrics() -> None:
    found = services()
    for name, service in found.items():
        image = service["image"]
        repository, _, tag = image.rpartition(":")
        assert repository and tag and tag != "latest", (name, image)
        if "restart" in service:  # long-running services get resource limits
            assert service["deploy"]["resources"]["limits"]["memory"], name
    worker = found["intent-worker"]
    assert worker["environment"]["INTENT_METRICS_PORT"] == "9464"
    assert "9464" in worker["healthcheck"]["test"][-1]
    assert not worker["healthcheck"].get("disable")
    caddyfile = (ROOT / "deploy" / "Caddyfile").read_text()
    assert "dynamic a intent-server 8080" in caddyfile
