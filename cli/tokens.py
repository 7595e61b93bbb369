"""``intent tokens``: API keys for scripts, CI and MCP clients that cannot sign in."""

from __future__ import annotations

from typing import Annotated

import typer

from access.scopes import ALL_SCOPES, READ
from api.services import keys as svc
from cli.local import DataOpt, local_settings, run_local

__all__ = ["app"]

app = typer.Typer(
    help="API keys (bearer tokens) for scripts, CI and MCP clients.", no_args_is_help=True
)


@app.command("create")
def create(
    name: Annotated[
        str,
        typer.Option(
            help="Machine identity the key acts as (created if new); people make their own "
            "keys once signed in."
        ),
    ],
    role: Annotated[list[str] | None, typer.Option(help="Role(s) for a new identity.")] = None,
    label: Annotated[str, typer.Option(help="What the key is for.")] = "cli",
    read_only: Annotated[
        bool, typer.Option("--read-only", help=f"Only {READ}: sees, changes nothing.")
    ] = False,
    expires_in_days: Annotated[
        float | None, typer.Option("--expires-in-days", help="Expire after this many days.")
    ] = None,
    space: Annotated[str | None, typer.Option(help="Limit the key to this space.")] = None,
    data_dir: DataOpt = None,
) -> None:
    """Print a new API key (only its hash is stored: keep it now)."""
    body = svc.KeyCreate(
        name=label,
        identity=name,
        roles=role or [],
        scopes=[READ] if read_only else list(ALL_SCOPES),
        expires_in_days=expires_in_days,
        space=space,
    )
    created = run_local(local_settings(data_dir=data_dir), lambda c: svc.create_key(c, body))
    typer.echo(created.key)


@app.command("list")
def list_keys(data_dir: DataOpt = None) -> None:
    """API keys (never their values): id, shown prefix, identity, scopes, use, state."""
    keys = run_local(local_settings(data_dir=data_dir), lambda c: svc.list_keys(c, everyone=True))
    for key in keys:
        used = key.last_used_at.isoformat(timespec="seconds") if key.last_used_at else "never"
        if key.revoked_at:
            state = f"revoked {key.revoked_at:%Y-%m-%d}"
        elif key.expires_at:
            state = f"expires {key.expires_at:%Y-%m-%d %H:%M}"
        else:
            state = "active"
        typer.echo(
            f"{key.id}  {key.prefix}…  {key.identity:16} scopes={','.join(key.scopes):19} "
            f"{key.name:20} last used {used}  {state}"
        )


@app.command("revoke")
def revoke(
    ref: Annotated[str, typer.Argument(help="Key id, or its shown prefix (intent_xxxx).")],
    data_dir: DataOpt = None,
) -> None:
    """Revoke a key: every request with it is refused from now on."""
    run_local(local_settings(data_dir=data_dir), lambda c: svc.revoke_key(c, ref))
    typer.echo(f"revoked {ref}")
