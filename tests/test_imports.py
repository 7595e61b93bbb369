"""The server is a Temporal client and a database reader, never a provider host.

``import server`` must not load the plugin machinery (the gRPC provider client, the
launcher, the pool, the generated tfplugin stubs). Workflows reference their
activities by type, so this also guards the rooms against importing it eagerly.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PLUGIN_MACHINERY = (
    "providers.client",
    "providers.launcher",
    "providers.pool",
    "providers._protocol",
    "providers.proto.tfplugin5_pb2_grpc",
    "providers.proto.tfplugin6_pb2_grpc",
)


def loaded_after(statement: str) -> set[str]:
    script = f"import json, sys\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, check=True, capture_output=True, text=True
    )
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_import_server_does_not_load_the_provider_plugin_machinery() -> None:
    loaded = loaded_after("import server")
    assert "server" in loaded and "workflows.change" in loaded
    assert not loaded & set(PLUGIN_MACHINERY), sorted(loaded & set(PLUGIN_MACHINERY))


def test_the_worker_does_load_it() -> None:
    # The check above would pass vacuously if the names were wrong.
    loaded = loaded_after("import worker, providers; providers.ProviderPool")
    assert set(PLUGIN_MACHINERY) <= loaded, sorted(set(PLUGIN_MACHINERY) - loaded)
