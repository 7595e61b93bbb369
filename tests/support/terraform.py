"""The terraform CLI as the yardstick for exports: init from the filesystem mirror, plan
against moto, read the plan back as JSON."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.moto import MotoServer
from tests.support.requirements import require

__all__ = ["Terraform"]


@dataclass
class Terraform:
    """``terraform`` in one directory, with providers from ``mirror`` and AWS at moto."""

    directory: Path
    mirror: Path
    moto: MotoServer
    variables: dict[str, str]

    def __post_init__(self) -> None:
        require(shutil.which("terraform"), "the terraform CLI (the yardstick for exports)")
        home = self.directory.parent / f"{self.directory.name}-home"
        home.mkdir(exist_ok=True)
        self.cli_config = home / "terraformrc"
        self.cli_config.write_text(
            f'provider_installation {{\n  filesystem_mirror {{\n    path = "{self.mirror}"\n'
            "  }\n}\n"
        )
        self.env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": str(home),
            "TF_CLI_CONFIG_FILE": str(self.cli_config),
            "TF_IN_AUTOMATION": "1",
            "CHECKPOINT_DISABLE": "1",
            **self.moto.env,
            **{f"TF_VAR_{k}": v for k, v in self.variables.items()},
        }

    def run(self, *args: str, codes: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            ["terraform", *args, "-no-color"],
            cwd=self.directory,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode in codes, (
            f"terraform {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
        )
        return done

    def init(self) -> None:
        self.run("init", "-input=false")

    def plan(self) -> tuple[int, dict[str, Any]]:
        """(detailed exit code, the plan as JSON)."""
        done = self.run("plan", "-input=false", "-detailed-exitcode", "-out=plan.out", codes=(0, 2))
        shown = self.run("show", "-json", "plan.out")
        return done.returncode, json.loads(shown.stdout)
