"""``intent changes``: on-call work on changes (list, show, confirm, reject, retry, abandon)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from cli.remote import Remote, fail, print_json

__all__ = ["app"]

app = typer.Typer(
    help="Inspect and decide on changes (through the REST API).", no_args_is_help=True
)

UrlOpt = Annotated[str | None, typer.Option(help="Server URL (default $INTENT_URL).")]
TokenOpt = Annotated[str | None, typer.Option(help="Bearer token (default $INTENT_TOKEN).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]
CommentOpt = Annotated[str, typer.Option(help="Kept in the history with the decision.")]


def _show(summary: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(summary)
        return
    typer.echo(f"{summary['change_id']}  [{summary['status']}]  project {summary['project']}")
    if summary.get("message"):
        typer.echo(f"  {summary['message']}")
    for op in summary["operations"]:
        line = f"  - {op['operation']:8} {op['resource_type']}.{op['resource_id']}"
        line += f"  action={op.get('action') or '?'}  status={op['status']}"
        if op.get("policy"):
            line += f"  policy={op['policy']}"
        typer.echo(line)
        for reason in op.get("reasons") or []:
            typer.echo(f"      reason: {reason}")
        if op.get("error"):
            typer.echo(f"      error: {op['error']}")
    for wait in summary.get("waiting_for") or []:
        typer.echo(f"  waiting: {wait}")
    if summary.get("next_steps"):
        typer.echo(f"  next: {summary['next_steps']}")


@app.command("list")
def list_changes(
    project: Annotated[str | None, typer.Option(help="Only this project.")] = None,
    status: Annotated[str | None, typer.Option(help="Only this status, e.g. failed.")] = None,
    limit: int = 20,
    url: UrlOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Recent changes, newest first."""
    params: dict[str, Any] = {"limit": limit}
    if project:
        params["project"] = project
    if status:
        params["status"] = status
    rows = Remote(url, token).request("GET", "/changes", params=params)
    if as_json:
        print_json(rows)
        return
    if not rows:
        typer.echo("no changes")
    for row in rows:
        ops = ", ".join(row["operations"])
        typer.echo(f"{row['change_id']}  {row['status']:22} {row['actor']:12} {ops}")


@app.command()
def show(
    change_id: str, url: UrlOpt = None, token: TokenOpt = None, as_json: JsonOpt = False
) -> None:
    """One change: status, operations, policy verdicts, what it waits for."""
    _show(Remote(url, token).request("GET", f"/changes/{change_id}"), as_json)


def _decide(
    verb: str,
    change_id: str,
    body: dict[str, Any],
    url: str | None,
    token: str | None,
    as_json: bool,
) -> None:
    _show(Remote(url, token).request("POST", f"/changes/{change_id}/{verb}", json=body), as_json)


@app.command()
def confirm(
    change_id: str,
    comment: CommentOpt = "",
    url: UrlOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Confirm a change that waits for a human (deletes, replacements, reviews)."""
    _decide("confirm", change_id, {"comment": comment}, url, token, as_json)


@app.command()
def reject(
    change_id: str,
    comment: CommentOpt = "",
    url: UrlOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Reject a change that waits for a human; nothing is applied."""
    _decide("reject", change_id, {"comment": comment}, url, token, as_json)


@app.command()
def retry(
    change_id: str,
    patch: Annotated[
        list[str] | None,
        typer.Option(
            help="RESOURCE_ID=JSON merge patch for a failed operation's config, or "
            "RESOURCE_ID=@file.json; repeatable."
        ),
    ] = None,
    comment: CommentOpt = "",
    url: UrlOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Retry a failed change (after fixing its cause), optionally patching configs."""
    patches: dict[str, Any] = {}
    for item in patch or []:
        resource_id, sep, text = item.partition("=")
        if not sep or not resource_id:
            fail(f"--patch {item!r}: write RESOURCE_ID=JSON")
        if text.startswith("@"):
            text = Path(text[1:]).read_text()
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            fail(f"--patch {resource_id}: not JSON ({exc})")
        if not isinstance(value, dict):
            fail(f"--patch {resource_id}: the patch must be a JSON object")
        patches[resource_id] = value
    body: dict[str, Any] = {"comment": comment}
    if patches:
        body["config_patches"] = patches
    _decide("retry", change_id, body, url, token, as_json)


@app.command()
def abandon(
    change_id: str,
    comment: CommentOpt = "",
    url: UrlOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Give up on a failed change; what was applied stays applied."""
    _decide("abandon", change_id, {"comment": comment}, url, token, as_json)


@app.command()
def revert(
    change_id: str,
    include_later: Annotated[
        bool,
        typer.Option("--include-later", help="Also revert later changes to the same resources."),
    ] = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Undo a change with a new one (updates reverted, creations deleted, deletions
    re-created from their last config without their data)."""
    body = {"include_later": include_later}
    _show(Remote(url, token).request("POST", f"/changes/{change_id}/revert", json=body), as_json)


@app.command("revert-resource")
def revert_resource(
    resource_id: str,
    to: Annotated[str, typer.Option("--to", help="The change whose result to return to.")],
    project: Annotated[str, typer.Option(help="Project name or id.")],
    url: UrlOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Return one resource to the configuration a change left it with."""
    path = f"/projects/{project}/resources/{resource_id}/revert"
    _show(Remote(url, token).request("POST", path, json={"to_change_id": to}), as_json)
