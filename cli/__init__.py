"""The ``intent`` command: run the stack or its pieces, and on-call/admin chores."""

from __future__ import annotations

import asyncio
import importlib
import os
import sys
from typing import Annotated

import typer

from cli.datadir import PRIVATE_UMASK, secure_data_dir
from cli.local import DataOpt, local_settings
from settings import POOL_NAME, Settings

__all__ = ["app", "main"]

root = typer.Typer(
    name="intent",
    help="Provision cloud infrastructure from your AI client, under policy.",
    no_args_is_help=True,
    add_completion=False,
)


# The sub-apps, imported only when used: each pulls in services, the database layer and
# the like, and `intent up` must refuse a clash in well under a second or two.
# name -> (module, attribute, help)
SUBCOMMANDS: dict[str, tuple[str, str, str | None]] = {
    "changes": ("cli.changes", "app", None),
    "integrations": ("cli.integrations", "app", None),
    "tokens": ("cli.tokens", "app", None),
    "users": ("cli.users", "app", None),
    "spaces": ("cli.access", "spaces_app", None),
    "roles": ("cli.access", "roles_app", None),
    "mcp-config": ("cli.mcp_config", "mcp_config", None),
    "providers": ("cli.providers", "app", "Search, install and describe providers."),
    "policy": ("cli.policy", "app", "Write and test Intent policies."),
    "secrets": ("cli.secrets", "app", "Keys for secrets at rest; rotation."),
    "projects": ("cli.projects", "app", None),
    "export": ("cli.projects", "export", None),
    "discover": ("cli.projects", "discover", None),
    "pools": ("cli.pools", "app", "Worker pools: where projects' provider work runs."),
}
_registered: set[str] = set()


def _register_subcommands(*names: str) -> None:
    """Add the named sub-apps (all when none is named) to the root app, once each."""
    for name in names or tuple(SUBCOMMANDS):
        if name in _registered:
            continue
        module, attribute, help_text = SUBCOMMANDS[name]
        target = getattr(importlib.import_module(module), attribute)
        if isinstance(target, typer.Typer) and help_text:
            root.add_typer(target, name=name, help=help_text)
        elif isinstance(target, typer.Typer):
            root.add_typer(target, name=name)  # its own help
        else:
            root.command(name)(target)
        _registered.add(name)


def _configure_logging(settings: Settings) -> None:
    from observability.logs import configure_logging

    configure_logging(settings.log_level, settings.log_format)


HostOpt = Annotated[str | None, typer.Option(help="Address to bind (default 127.0.0.1).")]
PortOpt = Annotated[int | None, typer.Option(help="HTTP port (default 8080).")]
MetricsOpt = Annotated[
    int | None, typer.Option(help="The worker's Prometheus port (default: off).")
]


@root.command()
def up(
    host: HostOpt = None,
    port: PortOpt = None,
    temporal_port: Annotated[int | None, typer.Option(help="Temporal gRPC port.")] = None,
    temporal_ui_port: Annotated[int | None, typer.Option(help="Temporal UI port.")] = None,
    data_dir: DataOpt = None,
    sandbox_port: Annotated[int | None, typer.Option(help="Sandbox cloud (moto) port.")] = None,
    metrics_port: MetricsOpt = None,
) -> None:
    """Start everything: Temporal dev server (unless INTENT_TEMPORAL_ADDRESS), the sandbox
    cloud (unless INTENT_SANDBOX=false), worker and server."""
    from cli.stack import run_stack

    settings = local_settings(
        host, port, temporal_port, temporal_ui_port, data_dir, sandbox_port, metrics_port
    )
    raise typer.Exit(run_stack(settings))


@root.command()
def server(host: HostOpt = None, port: PortOpt = None, data_dir: DataOpt = None) -> None:
    """Run only the HTTP server (REST API, MCP endpoint, web UI)."""
    import uvicorn

    from api import logs
    from observability.tracing import configure_tracing
    from server import create_app

    settings = local_settings(host=host, port=port, data_dir=data_dir)
    secure_data_dir(settings)
    _configure_logging(settings)
    logs.install()
    configure_tracing(settings, "intent-server")
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        # Our handler on the root logger formats uvicorn's lines too (text or json).
        log_config=None,
        # Behind a proxy, the public URL is configured; don't trust arbitrary forwards.
        proxy_headers=False,
    )


@root.command()
def worker(
    data_dir: DataOpt = None,
    metrics_port: MetricsOpt = None,
    pool: Annotated[
        str | None,
        typer.Option(
            help="Serve only this worker pool's provider work (task queue intent-pool-NAME), "
            "e.g. inside the network that holds a project's credentials."
        ),
    ] = None,
) -> None:
    """Run only the Temporal worker (workflows and activities)."""
    from worker import run_worker

    settings = local_settings(data_dir=data_dir, metrics_port=metrics_port)
    if pool:
        if not POOL_NAME.match(pool):
            raise typer.BadParameter(
                "a pool name is lower-case letters, digits and dashes (e.g. prod-vpc)",
                param_hint="--pool",
            )
        settings = settings.model_copy(update={"worker_pool": pool})
    _configure_logging(settings)
    secure_data_dir(settings)
    asyncio.run(run_worker(settings))


def command_line() -> typer.Typer:
    """The app with what this command line needs: one sub-app, or all for help."""
    first = next((a for a in sys.argv[1:] if not a.startswith("-")), None)
    if first in SUBCOMMANDS:
        _register_subcommands(first)
    elif first not in ("up", "server", "worker"):
        _register_subcommands()
    return root


def __getattr__(name: str) -> typer.Typer:
    # `from cli import app` (tests, embedding): the whole command tree.
    if name == "app":
        _register_subcommands()
        return root
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    # Whatever intent writes (database, key, logs) is private unless made readable on
    # purpose (installed providers).
    os.umask(PRIVATE_UMASK)
    command_line()()
