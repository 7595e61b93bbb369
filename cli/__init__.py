"""The ``intent`` command: run the stack or its pieces, and on-call/admin chores."""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Annotated

import typer

from cli.datadir import PRIVATE_UMASK, secure_data_dir
from cli.local import DataOpt, local_settings

__all__ = ["app", "main"]

app = typer.Typer(
    name="intent",
    help="Provision cloud infrastructure from your AI client, under policy.",
    no_args_is_help=True,
    add_completion=False,
)


def _register_subcommands() -> None:
    # Imported here so `intent --help` stays quick and each sub-app owns its imports.
    from cli.access import roles_app, spaces_app
    from cli.changes import app as changes_app
    from cli.mcp_config import mcp_config
    from cli.policy import app as policy_app
    from cli.projects import app as projects_app
    from cli.projects import discover, export
    from cli.providers import app as providers_app
    from cli.secrets import app as secrets_app
    from cli.tokens import app as tokens_app
    from cli.users import app as users_app

    app.add_typer(changes_app, name="changes")
    app.add_typer(tokens_app, name="tokens")
    app.add_typer(users_app, name="users")
    app.add_typer(spaces_app, name="spaces")
    app.add_typer(roles_app, name="roles")
    app.command("mcp-config")(mcp_config)
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


HostOpt = Annotated[str | None, typer.Option(help="Address to bind (default 127.0.0.1).")]
PortOpt = Annotated[int | None, typer.Option(help="HTTP port (default 8080).")]


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

    settings = local_settings(host, port, temporal_port, temporal_ui_port, data_dir, sandbox_port)
    raise typer.Exit(run_stack(settings))


@app.command()
def server(host: HostOpt = None, port: PortOpt = None, data_dir: DataOpt = None) -> None:
    """Run only the HTTP server (REST API, MCP endpoint, web UI)."""
    import uvicorn

    from api import logs
    from server import create_app

    _configure_logging()
    settings = local_settings(host=host, port=port, data_dir=data_dir)
    secure_data_dir(settings)
    logs.install()
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
    settings = local_settings(data_dir=data_dir)
    secure_data_dir(settings)
    asyncio.run(run_worker(settings))


def main() -> None:
    # Whatever intent writes (database, key, logs) is private unless made readable on
    # purpose (installed providers).
    os.umask(PRIVATE_UMASK)
    app()
