"""``intent pools``: which worker pools projects use, and routing a project to one."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.remote import Remote, print_json

__all__ = ["app"]

app = typer.Typer(
    help="Worker pools (through the REST API): a project's provider work runs on the "
    "workers of its pool (`intent worker --pool NAME`).",
    no_args_is_help=True,
)

UrlOpt = Annotated[str | None, typer.Option(help="Server URL (default $INTENT_URL).")]
TokenOpt = Annotated[str | None, typer.Option(help="Bearer token (default $INTENT_TOKEN).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@app.command("list")
def list_pools(url: UrlOpt = None, token: TokenOpt = None, as_json: JsonOpt = False) -> None:
    """Pools your projects name, and how many workers serve each now."""
    pools = Remote(url, token).request("GET", "/pools")
    if as_json:
        print_json(pools)
        return
    if not pools:
        typer.echo("no project names a worker pool; all provider work runs on the default workers")
    for pool in pools:
        workers = "unknown" if pool["workers"] is None else str(pool["workers"])
        typer.echo(
            f"{pool['pool']:20} workers={workers:8} queue={pool['task_queue']}  "
            f"projects: {', '.join(pool['projects'])}"
        )


@app.command("set")
def set_pool(
    project: Annotated[str, typer.Argument(help="Project name or id.")],
    pool: Annotated[str, typer.Argument(help="Pool name; 'default' for the default workers.")],
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Space admins: run a project's provider work on a pool's workers."""
    name = None if pool == "default" else pool
    Remote(url, token).request("PUT", f"/projects/{project}/pool", json={"pool": name})
    where = f"pool {name} (start `intent worker --pool {name}`)" if name else "the default workers"
    typer.echo(f"project {project}'s provider work now runs on {where}")
