"""The installed package (what the Dockerfile's `pip install .` gets) carries its data."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_carries_migrations_templates_policies_and_protos(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", str(ROOT), "-w", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("intent-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in (
        "server.py",
        "worker.py",
        "settings.py",
        "store/migrations/env.py",
        "store/migrations/versions/0001_foundation.py",
        "api/ui/templates/base.html",
        "api/ui/static/intent.css",
        "policies/library/only_s3_buckets.rego",
        "providers/proto/tfplugin5_pb2.py",
        "integrations/sessions.py",
        "api/ui/templates/integration.html",
    ):
        assert required in names, required
    assert not [n for n in names if n.startswith("tests/")]
    migrations = sorted(p.name for p in (ROOT / "store/migrations/versions").glob("*.py"))
    assert {f"store/migrations/versions/{m}" for m in migrations} <= names
