"""``intent users``: local accounts (the web UI and OAuth sign-in use them)."""

from __future__ import annotations

from typing import Annotated

import typer

from api.services import users as svc
from cli.local import DataOpt, local_settings, run_local

__all__ = ["app"]

app = typer.Typer(
    help="Users who sign in (web UI, MCP clients through OAuth).", no_args_is_help=True
)


@app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="User name they sign in with.")],
    email: Annotated[str | None, typer.Option(help="Contact address.")] = None,
    role: Annotated[list[str] | None, typer.Option(help="Role(s) to give.")] = None,
    password: Annotated[
        bool, typer.Option("--password", help="Type a password now instead of printing a link.")
    ] = False,
    data_dir: DataOpt = None,
) -> None:
    """Create a user; prints a one-time link to set the password (or asks for one)."""
    clear = (
        typer.prompt("Password", hide_input=True, confirmation_prompt=True) if password else None
    )
    body = svc.UserCreate(name=name, email=email, roles=role or [], password=clear)
    user, link = run_local(local_settings(data_dir=data_dir), lambda c: svc.create_user(c, body))
    typer.echo(f"created {user.name}")
    if link is not None:
        typer.echo(f"{user.name} sets a password at (once, within 24 hours):\n  {link.url}")


@app.command("list")
def list_users(data_dir: DataOpt = None) -> None:
    """Users and machine identities."""
    for user in run_local(local_settings(data_dir=data_dir), svc.list_users):
        login = f"{user.last_login_at:%Y-%m-%d %H:%M}" if user.last_login_at else "never"
        how = "upstream" if user.upstream else ("password" if user.has_password else "no password")
        state = "disabled" if user.disabled else "active"
        typer.echo(
            f"{user.name:20} {user.kind:8} {how:12} roles={','.join(user.roles) or '-':24} "
            f"last sign-in {login}  {state}"
        )


@app.command("disable")
def disable(name: str, data_dir: DataOpt = None) -> None:
    """Refuse the user's sign-ins, sessions, tokens and keys from now on."""
    run_local(local_settings(data_dir=data_dir), lambda c: svc.set_disabled(c, name, True))
    typer.echo(f"disabled {name}")


@app.command("enable")
def enable(name: str, data_dir: DataOpt = None) -> None:
    run_local(local_settings(data_dir=data_dir), lambda c: svc.set_disabled(c, name, False))
    typer.echo(f"enabled {name}")


@app.command("passwd")
def passwd(
    name: str,
    link: Annotated[
        bool, typer.Option("--link", help="Print a one-time link instead of asking for it.")
    ] = False,
    data_dir: DataOpt = None,
) -> None:
    """Set a user's password (asked twice, never echoed), or print a link to set it."""
    settings = local_settings(data_dir=data_dir)
    if link:
        made = run_local(settings, lambda c: svc.password_link(c, name))
        typer.echo(f"{name} sets a password at (once, within 24 hours):\n  {made.url}")
        return
    clear = typer.prompt("New password", hide_input=True, confirmation_prompt=True)
    changed = run_local(settings, lambda c: svc.set_password(c, name, clear))
    typer.echo(changed.message)
