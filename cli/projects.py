"""``intent projects …`` and ``intent export``: projects through the REST API."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from cli.remote import Remote, fail, print_json
from workflows.models import FINAL_STATUSES

__all__ = ["app", "discover", "export"]

app = typer.Typer(help="Describe, change and export projects (REST API).", no_args_is_help=True)

UrlOpt = Annotated[str | None, typer.Option(help="Server URL (default $INTENT_URL).")]
TokenOpt = Annotated[str | None, typer.Option(help="Bearer token (default $INTENT_TOKEN).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]

# Where a confirmed change stops moving on its own: done, or failed (waiting for on-call).
_SETTLED = FINAL_STATUSES | {"failed"}

# Files that may hold secrets are written readable by their owner only.
_PRIVATE = frozenset({"terraform.tfstate"})


@app.command()
def describe(
    project: Annotated[str, typer.Argument(help="Project name or id.")],
    url: UrlOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Lock, labels, integrations, policies, provider versions and counts."""
    body = Remote(url, token).request("GET", f"/projects/{project}/describe")
    if as_json:
        print_json(body)
        return
    _describe(body)


@app.command()
def current(url: UrlOpt = None, token: TokenOpt = None, as_json: JsonOpt = False) -> None:
    """The project whose lock you hold."""
    body = Remote(url, token).request("GET", "/me/project")
    if as_json:
        print_json(body)
    elif body["project"] is None:
        typer.echo(body["message"])
    else:
        _describe(body["project"])


@app.command()
def update(
    project: Annotated[str, typer.Argument(help="Project name or id.")],
    description: Annotated[str | None, typer.Option(help="New description.")] = None,
    label: Annotated[
        list[str] | None, typer.Option("--label", help="Labels (replace them); repeatable.")
    ] = None,
    space: Annotated[str | None, typer.Option(help="Move it to this space.")] = None,
    ttl: Annotated[
        str | None, typer.Option(help="Time to live: 2h, 7d, a timestamp, or off.")
    ] = None,
    drift_interval: Annotated[
        float | None, typer.Option(help="Seconds between drift checks; 0 turns them off.")
    ] = None,
    url: UrlOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Change a project: description, labels, space, TTL, drift schedule."""
    remote = Remote(url, token)
    body: dict[str, Any] = {
        k: v
        for k, v in {"description": description, "labels": label, "space": space}.items()
        if v is not None
    }
    if not body and ttl is None and drift_interval is None:
        fail("nothing to update: give --description, --label, --space, --ttl or --drift-interval")
    if body:
        remote.request("PATCH", f"/projects/{project}", json=body)
    if ttl is not None:
        remote.request("PUT", f"/projects/{project}/ttl", json={"ttl": ttl})
    if drift_interval is not None:
        remote.request(
            "PUT", f"/projects/{project}/drift-schedule", json={"interval_seconds": drift_interval}
        )
    shown = remote.request("GET", f"/projects/{project}")
    if as_json:
        print_json(shown)
        return
    typer.echo(f"updated project {shown['name']}")
    if shown.get("expires_at"):
        typer.echo(f"  expires at {shown['expires_at']}")
    if shown.get("drift_interval_seconds"):
        typer.echo(f"  drift checked every {shown['drift_interval_seconds']:g} s")


@app.command()
def delete(
    project: Annotated[str, typer.Argument(help="Project name or id.")],
    destroy_resources: Annotated[
        bool,
        typer.Option(
            "--destroy-resources", help="Delete its resources first (one confirmed change)."
        ),
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Confirm that change without asking.")] = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Delete a project (refused while it manages resources, unless --destroy-resources)."""
    remote = Remote(url, token)
    params = {"destroy_resources": "true"} if destroy_resources else {}
    started = remote.request("DELETE", f"/projects/{project}", params=params)
    if started is None:
        typer.echo(f"deleted project {project}")
        return
    change_id = started["change_id"]
    typer.echo(f"change {change_id} deletes every resource of {project}")
    status = _settled(remote, change_id, _SETTLED | {"awaiting_confirmation"})
    if status != "awaiting_confirmation":
        fail(f"change {change_id} ended {status}; the project stays (`intent changes show`)")
    if not yes and not typer.confirm("Delete them all now?", default=False):
        typer.echo(f"left waiting: `intent changes confirm {change_id}`, then delete again")
        return
    remote.request("POST", f"/changes/{change_id}/confirm", json={"comment": "project delete"})
    status = _settled(remote, change_id, _SETTLED)
    if status != "applied":
        fail(f"change {change_id} ended {status}; the project stays (`intent changes show`)")
    remote.request("DELETE", f"/projects/{project}")
    typer.echo(f"deleted project {project} and its resources")


def _settled(
    remote: Remote, change_id: str, statuses: frozenset[str], seconds: float = 600.0
) -> str:
    """The change's status once it is one of ``statuses`` (or the time is up)."""
    deadline = time.monotonic() + seconds
    while True:
        status: str = remote.request("GET", f"/changes/{change_id}")["status"]
        if status in statuses or time.monotonic() > deadline:
            return status
        time.sleep(0.5)


def _describe(body: dict[str, Any]) -> None:
    project = body["project"]
    lock = project["lock"]
    held = f"locked by {lock['holder']} until {lock['expires_at']}" if lock["locked"] else "free"
    typer.echo(f"{project['name']}  ({project['id']})  space {project['space']}  {held}")
    if project.get("description"):
        typer.echo(f"  {project['description']}")
    if project.get("labels"):
        typer.echo(f"  labels: {', '.join(project['labels'])}")
    counts = body["counts"]
    by_status = ", ".join(f"{k} {v}" for k, v in counts["resources_by_status"].items())
    typer.echo(f"  resources: {counts['resources']}" + (f" ({by_status})" if by_status else ""))
    for name, n in sorted(counts["resources_by_type"].items()):
        typer.echo(f"    {name}: {n}")
    typer.echo(f"  changes: {counts['changes']}, in flight: {len(counts['changes_in_flight'])}")
    for integration in body["integrations"]:
        typer.echo(f"  integration {integration['provider']}: {integration['name']}")
    for policy in body["policies"]:
        typer.echo(f"  policy {policy['name']} ({policy['how']})")
    for provider in body["providers"]:
        typer.echo(f"  provider {provider['provider']} {provider['version']}")


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


def discover(
    project: Annotated[str, typer.Argument(help="Project name or id (hold its lock).")],
    resource_type: Annotated[str, typer.Argument(help="e.g. aws_ssm_parameter")],
    filter_: Annotated[
        list[str] | None,
        typer.Option("--filter", help="NAME=VALUE, e.g. path=/app or prefix=web-; repeatable."),
    ] = None,
    url: UrlOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Existing cloud objects of a type the project does not manage yet, to import."""
    filters: dict[str, str] = {}
    for item in filter_ or []:
        name, sep, value = item.partition("=")
        if not sep or not name:
            fail(f"--filter {item!r}: write NAME=VALUE")
        filters[name] = value
    body = Remote(url, token).request(
        "POST",
        f"/projects/{project}/resources/discover",
        json={"resource_type": resource_type, "filters": filters},
    )
    if as_json:
        print_json(body)
        return
    if not body["found"]:
        typer.echo(f"no unmanaged {resource_type} found")
    for item in body["found"]:
        line = f"{item['import_id']:50}  {item['summary']}"
        if item.get("managed_by"):
            line += f"  (managed by {item['managed_by']})"
        else:
            line += f"  → resource id {item['suggested_resource_id']}"
        typer.echo(line)
    if body.get("managed_here"):
        typer.echo(f"already managed here: {', '.join(body['managed_here'])}")
    if body.get("note"):
        typer.echo(f"note: {body['note']}")
