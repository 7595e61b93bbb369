"""``intent integrations``: cloud integrations and their attachments (through the REST API)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from cli.remote import Remote, fail, print_json

__all__ = ["app"]

app = typer.Typer(
    help="Cloud integrations (AWS roles intent assumes per change) and the projects they serve.",
    no_args_is_help=True,
)

UrlOpt = Annotated[str | None, typer.Option(help="Server URL (default $INTENT_URL).")]
TokenOpt = Annotated[str | None, typer.Option(help="Bearer token (default $INTENT_TOKEN).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]
RoleOpt = Annotated[str | None, typer.Option(help="IAM role ARN intent assumes to apply changes.")]
ReadRoleOpt = Annotated[
    str | None, typer.Option(help="Separate IAM role ARN for plans, refreshes and reads.")
]
RegionOpt = Annotated[str | None, typer.Option(help="Region, e.g. eu-west-1.")]
SessionOpt = Annotated[int | None, typer.Option(help="Session duration in seconds (900-43200).")]
EndpointOpt = Annotated[
    str | None, typer.Option(help="AWS-compatible endpoint (space admins only).")
]
SettingsOpt = Annotated[
    str | None, typer.Option(help="Kind settings as JSON (static: provider and config).")
]


def _settings(
    role_arn: str | None,
    read_role_arn: str | None,
    region: str | None,
    session_seconds: int | None,
    endpoint: str | None,
    raw: str | None,
    **more: Any,
) -> dict[str, Any]:
    """The kind's settings from the options given (and --settings JSON over them)."""
    given: dict[str, Any] = {"role_arn": role_arn, "read_role_arn": read_role_arn}
    given["region"] = region
    given |= {"session_seconds": session_seconds, "endpoint": endpoint, **more}
    settings = {k: v for k, v in given.items() if v is not None}
    if raw:
        try:
            extra = json.loads(raw)
        except json.JSONDecodeError as exc:
            fail(f"--settings is not JSON: {exc}")
        if not isinstance(extra, dict):
            fail("--settings must be a JSON object")
        settings |= extra
    return settings


def _show(view: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(view)
        return
    typer.echo(f"{view['name']}  [{view['kind']}]  space {view['space']}  ({view['id']})")
    settings = dict(view["settings"])
    trust = settings.pop("trust_policy", None)
    for key, value in settings.items():
        if value not in (None, "", False):
            typer.echo(f"  {key}: {value}")
    typer.echo(f"  attached to: {', '.join(view['attached_projects']) or '-'}")
    if trust:
        typer.echo("  trust policy each role needs:")
        for line in json.dumps(trust, indent=2).splitlines():
            typer.echo(f"    {line}")


@app.command("list")
def list_integrations(
    space: Annotated[str | None, typer.Option(help="Only this space.")] = None,
    url: UrlOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Integrations you may see."""
    rows = Remote(url, token).request(
        "GET", "/integrations", params={"space": space} if space else None
    )
    if as_json:
        print_json(rows)
        return
    if not rows:
        typer.echo("no integrations")
    for row in rows:
        account = row["settings"].get("account_id") or row["provider"]
        projects = ", ".join(row["attached_projects"]) or "-"
        typer.echo(f"{row['name']:24} {row['kind']:7} {row['space']:16} {account:14} {projects}")


@app.command()
def show(ref: str, url: UrlOpt = None, token: TokenOpt = None, as_json: JsonOpt = False) -> None:
    """One integration, with the trust policy its roles need."""
    _show(Remote(url, token).request("GET", f"/integrations/{ref}"), as_json)


@app.command()
def create(
    name: str,
    kind: Annotated[str, typer.Option(help="aws or static.")] = "aws",
    space: Annotated[str | None, typer.Option(help="Space it lives in (default root).")] = None,
    role_arn: RoleOpt = None,
    read_role_arn: ReadRoleOpt = None,
    region: RegionOpt = None,
    session_seconds: SessionOpt = None,
    endpoint: EndpointOpt = None,
    settings: SettingsOpt = None,
    url: UrlOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create an integration; prints the external id and trust policy for its roles."""
    body = {
        "name": name,
        "kind": kind,
        "space": space,
        "settings": _settings(role_arn, read_role_arn, region, session_seconds, endpoint, settings),
    }
    _show(Remote(url, token).request("POST", "/integrations", json=body), as_json)


@app.command()
def update(
    ref: str,
    name: Annotated[str | None, typer.Option(help="New name.")] = None,
    role_arn: RoleOpt = None,
    read_role_arn: ReadRoleOpt = None,
    region: RegionOpt = None,
    session_seconds: SessionOpt = None,
    endpoint: EndpointOpt = None,
    rotate_external_id: Annotated[
        bool, typer.Option(help="A new external id (update the roles' trust policies).")
    ] = False,
    settings: SettingsOpt = None,
    url: UrlOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Change an integration (only what you pass)."""
    body: dict[str, Any] = {
        "name": name,
        "settings": _settings(
            role_arn,
            read_role_arn,
            region,
            session_seconds,
            endpoint,
            settings,
            rotate_external_id=rotate_external_id or None,
        ),
    }
    _show(Remote(url, token).request("PATCH", f"/integrations/{ref}", json=body), as_json)


@app.command()
def delete(ref: str, url: UrlOpt = None, token: TokenOpt = None) -> None:
    """Delete an integration no project uses."""
    Remote(url, token).request("DELETE", f"/integrations/{ref}")
    typer.echo(f"deleted integration {ref}")


@app.command()
def attached(
    project: str, url: UrlOpt = None, token: TokenOpt = None, as_json: JsonOpt = False
) -> None:
    """The integrations attached to a project."""
    rows = Remote(url, token).request("GET", f"/projects/{project}/integrations")
    if as_json:
        print_json(rows)
        return
    if not rows:
        typer.echo(f"project {project} has no integration attached")
    for row in rows:
        access = " + ".join(a for a, on in (("Read", row["read"]), ("Write", row["write"])) if on)
        typer.echo(
            f"{row['provider']:16} {row['integration']:24} {row['region'] or '-':14} "
            f"{access or 'no access'}"
        )


@app.command()
def attach(
    project: str,
    ref: str,
    region: RegionOpt = None,
    read: Annotated[bool, typer.Option("--read/--no-read", help="Plans and reads.")] = True,
    write: Annotated[bool, typer.Option("--write/--no-write", help="Applying changes.")] = False,
    relocate: Annotated[
        bool,
        typer.Option(
            "--relocate",
            help="The project's existing resources really are in the new account or region.",
        ),
    ] = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Attach integration REF to PROJECT (or change its region and switches)."""
    body = {"region": region, "read": read, "write": write, "relocate": relocate}
    row = Remote(url, token).request("PUT", f"/projects/{project}/integrations/{ref}", json=body)
    if as_json:
        print_json(row)
        return
    access = " + ".join(a for a, on in (("Read", row["read"]), ("Write", row["write"])) if on)
    typer.echo(
        f"attached {row['integration']} to {project}: {row['region']}, {access or 'no access'}"
    )


@app.command()
def detach(project: str, ref: str, url: UrlOpt = None, token: TokenOpt = None) -> None:
    """Detach integration REF from PROJECT."""
    Remote(url, token).request("DELETE", f"/projects/{project}/integrations/{ref}")
    typer.echo(f"detached {ref} from {project}")
