"""The ``intent`` command: run the stack or its pieces, and on-call/admin chores."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from typing import Annotated

import typer

from cli.datadir import PRIVATE_UMASK, secure_data_dir
from settings import Settings

__all__ = ["app", "main"]

app = typer.Typer(
    name="intent",
    help="Provision cloud infrastructure from your AI client, under policy.",
    no_args_is_help=True,
    add_completion=False,
)
tokens_app = typer.Typer(
    help="Bearer tokens for scripts, CI and MCP clients.", no_args_is_help=True
)
app.add_typer(tokens_app, name="tokens")


def _register_subcommands() -> None:
    # Imported here so `intent --help` stays quick and each sub-app owns its imports.
    from cli.changes import app as changes_app
    from cli.policy import app as policy_app
    from cli.projects import app as projects_app
    from cli.projects import discover, export
    from cli.providers import app as providers_app
    from cli.secrets import app as secrets_app

    app.add_typer(changes_app, name="changes")
    app.add_typer(projects_app, name="projects")
    app.command("export")(export)
    app.command("discover")(discover)
    app.add_typer(providers_app, name="providers", help="Search, install and describe providers.")
    app.add_typer(policy_app, name="policy", help="Write and test Intent policies.")
    app.add_typer(secrets_app, name="secrets", help="Keys for secrets at rest; rotation.")


_register_subcommands()


def _configure_logging() -> None:
    level = os.environ.get("INTENT_LOG_LEVEL", "INFO").upper()
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def _settings(
    host: str | None = None,
    port: int | None = None,
    temporal_port: int | None = None,
    temporal_ui_port: int | None = None,
    data_dir: Path | None = None,
    sandbox_port: int | None = None,
) -> Settings:
    overrides = {
        "host": host,
        "port": port,
        "temporal_port": temporal_port,
        "temporal_ui_port": temporal_ui_port,
        "data_dir": data_dir,
        "sandbox_port": sandbox_port,
    }
    # Flags beat environment variables, which beat defaults.
    return Settings().model_copy(update={k: v for k, v in overrides.items() if v is not None})


HostOpt = Annotated[str | None, typer.Option(help="Address to bind (default 127.0.0.1).")]
PortOpt = Annotated[int | None, typer.Option(help="HTTP port (default 8080).")]
DataOpt = Annotated[Path | None, typer.Option(help="Data directory (default ./.intent).")]


@app.command()
def up(
    host: HostOpt = None,
    port: PortOpt = None,
    temporal_port: Annotated[int | None, typer.Option(help="Temporal gRPC port.")] = None,
    temporal_ui_port: Annotated[int | None, typer.Option(help="Temporal UI port.")] = None,
    data_dir: DataOpt = None,
    sandbox_port: Annotated[int | None, typer.Option(help="Sandbox cloud (moto) port.")] = None,
) -> None:
    """Start everything: Temporal dev server (unless INTENT_TEMPORAL_ADDRESS), the sandbox
    cloud (unless INTENT_SANDBOX=false), worker and server."""
    from cli.stack import run_stack

    settings = _settings(host, port, temporal_port, temporal_ui_port, data_dir, sandbox_port)
    raise typer.Exit(run_stack(settings))


@app.command()
def server(host: HostOpt = None, port: PortOpt = None, data_dir: DataOpt = None) -> None:
    """Run only the HTTP server (REST API, MCP endpoint, web UI)."""
    import uvicorn

    from server import create_app

    _configure_logging()
    settings = _settings(host=host, port=port, data_dir=data_dir)
    secure_data_dir(settings)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=os.environ.get("INTENT_LOG_LEVEL", "info").lower(),
        # Behind a proxy, the public URL is configured; don't trust arbitrary forwards.
        proxy_headers=False,
    )


@app.command()
def worker(data_dir: DataOpt = None) -> None:
    """Run only the Temporal worker (workflows and activities)."""
    from worker import run_worker

    _configure_logging()
    settings = _settings(data_dir=data_dir)
    secure_data_dir(settings)
    asyncio.run(run_worker(settings))


@tokens_app.command("create")
def tokens_create(
    name: Annotated[str, typer.Option(help="Identity the token acts as (created if new).")],
    role: Annotated[list[str] | None, typer.Option(help="Role(s) for a new identity.")] = None,
    label: Annotated[str, typer.Option(help="What the token is for.")] = "cli",
    data_dir: DataOpt = None,
) -> None:
    """Print a new bearer token (only its hash is stored)."""
    from store import identities
    from store.db import Database

    settings = _settings(data_dir=data_dir)

    async def create() -> str:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        db = Database(settings.resolved_database_url)
        try:
            await db.migrate()
            async with db.transaction() as session:
                identity = await identities.ensure_identity(
                    session, name, kind="machine", roles=role or []
                )
                return await identities.create_token(session, identity, label)
        finally:
            await db.dispose()

    typer.echo(asyncio.run(create()))


@tokens_app.command("list")
def tokens_list(data_dir: DataOpt = None) -> None:
    """Tokens (never their values): id, shown prefix, identity, roles, use, revocation."""
    from store import identities
    from store.db import Database

    settings = _settings(data_dir=data_dir)

    async def rows() -> list[str]:
        db = Database(settings.resolved_database_url)
        try:
            await db.migrate()
            async with db.session() as session:
                found = await identities.list_tokens(session)
        finally:
            await db.dispose()
        out = []
        for token, identity in found:
            used = (
                token.last_used_at.isoformat(timespec="seconds") if token.last_used_at else "never"
            )
            state = f"revoked {token.revoked_at:%Y-%m-%d}" if token.revoked_at else "active"
            roles = ",".join(identity.roles) or "-"
            out.append(
                f"{token.id}  {token.prefix}…  {identity.name:16} roles={roles:20} "
                f"{token.name:20} last used {used}  {state}"
            )
        return out

    for line in asyncio.run(rows()):
        typer.echo(line)


@tokens_app.command("revoke")
def tokens_revoke(
    ref: Annotated[str, typer.Argument(help="Token id, or its shown prefix (intent_xxxx).")],
    data_dir: DataOpt = None,
) -> None:
    """Revoke a token: every request with it is refused from now on."""
    from store import identities
    from store.db import Database

    settings = _settings(data_dir=data_dir)

    async def revoke() -> bool:
        db = Database(settings.resolved_database_url)
        try:
            await db.migrate()
            async with db.transaction() as session:
                return await identities.revoke_token(session, ref) is not None
        finally:
            await db.dispose()

    if not asyncio.run(revoke()):
        typer.echo(f"no single token matches {ref!r}; see `intent tokens list`", err=True)
        raise typer.Exit(1)
    typer.echo(f"revoked {ref}")


def main() -> None:
    # Whatever intent writes (database, key, logs) is private unless made readable on
    # purpose (installed providers).
    os.umask(PRIVATE_UMASK)
    app()
