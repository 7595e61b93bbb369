"""Node tools the tests run, installed from tests/node/package-lock.json by `make node-deps`."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.support.requirements import require

__all__ = ["NODE_DIR", "node_module", "node_tool"]

NODE_DIR = Path(__file__).resolve().parents[1] / "node"


def node_tool(name: str) -> Path:
    """``node_modules/.bin/NAME``; a skip locally, a failure under CI, when not installed."""
    require(shutil.which("node"), "node (Debian nodejs)")
    path = NODE_DIR / "node_modules" / ".bin" / name
    require(path.exists(), f"{name} from tests/node (make node-deps)")
    return path


def node_module(*parts: str) -> Path:
    """A file inside an installed package, e.g. ``node_module("axe-core", "axe.min.js")``."""
    path = NODE_DIR.joinpath("node_modules", *parts)
    require(path.exists(), f"{'/'.join(parts)} from tests/node (make node-deps)")
    return path
