"""``intent projects …`` and ``intent export``: projects through the REST API."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer

from cli.remote import Remote, fail, print_json

__all__ = ["app", "export"]

app = typer.Typer(help="Describe, change and export projects (REST API).", no_args_is_help=True)

UrlOpt = Annotated[str | None, typer.Option(help="Server URL (default $INTENT_URL).")]
TokenOpt = Annotated[str | None, typer.Option(help="Bearer token (default $INTENT_TOKEN).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]

# Files that may hold secrets are written readable by their owner only.
_PRIVATE = frozenset({"terraform.tfstate"})


def export(
    project: Annotated[str, typer.Argument(help="Project name or id.")],
    directory: Annotated[Path, typer.Argument(help="Directory to write the files into.")],
    include_secrets: Annotated[
        bool,
        typer.Option(
            "--include-secrets",
            help="Write sensitive values into terraform.tfstate (admins; recorded in history).",
        ),
    ] = False,
    force: Annotated[bool, typer.Option(help="Overwrite files that exist.")] = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Export a project as Terraform files: HCL, import blocks, state and lock file."""
    if directory.exists() and not directory.is_dir():
        fail(f"{directory} is not a directory")
    body = Remote(url, token).request(
        "POST", f"/projects/{project}/export", json={"include_secrets": include_secrets}
    )
    files: dict[str, str] = body["files"]
    clashes = [name for name in files if (directory / name).exists()]
    if clashes and not force:
        fail(f"{', '.join(sorted(clashes))} exist in {directory}; pass --force to overwrite")
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        _write(directory / name, text, private=name in _PRIVATE)
    if as_json:
        print_json({k: v for k, v in body.items() if k != "files"} | {"files": sorted(files)})
        return
    _summary(body, directory)


def _write(path: Path, text: str, *, private: bool) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


def _summary(body: dict[str, Any], directory: Path) -> None:
    typer.echo(f"exported {len(body['resources'])} resource(s) of {body['project']} to {directory}")
    typer.echo(f"  in terraform.tfstate: {len(body['in_state'])}")
    if body.get("not_in_state"):
        typer.echo(f"  holding secrets, import them: {', '.join(body['not_in_state'])}")
    for name, what in (body.get("variables") or {}).items():
        typer.echo(f"  set TF_VAR_{name}: {what}")
    if body.get("unverified_imports"):
        typer.echo(f"  check the import ids of: {', '.join(body['unverified_imports'])}")
    if body.get("includes_secrets"):
        typer.echo("  terraform.tfstate holds secrets in clear: keep it out of version control")
    typer.echo(f"  next: {body['next_steps']}")
