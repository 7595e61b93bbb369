"""``intent secrets``: the keys that seal secrets at rest, and rotating them.

A rotation takes two steps so that no running process ever meets a value sealed with a
key it does not have:

1. ``intent secrets add-key`` puts a new key *last* in the key file (it opens, it does
   not seal yet). Restart every intent process so all of them hold it.
2. ``intent secrets rotate`` makes it the sealing key and seals every stored secret
   again with it. Restart again; ``intent secrets rotate --retire`` then drops the keys
   nothing is sealed with any more.

With ``INTENT_SECRET_KEY`` (several keys, comma-separated) the same steps are edits of
that variable: append a key (``intent secrets generate``), move it first, run ``rotate``,
remove the old one.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from settings import Settings
from store.db import Database
from store.sealing import census, reseal_all
from store.secrets import SecretBox, SecretKeyError, generate_key, key_file_path, write_key_file

__all__ = ["app"]

app = typer.Typer(help="Keys for secrets at rest: status, generate, add-key, rotate.")

DataOpt = Annotated[Path | None, typer.Option(help="Data directory (default ./.intent).")]


def _settings(data_dir: Path | None) -> Settings:
    settings = Settings()
    return settings.model_copy(update={"data_dir": data_dir}) if data_dir else settings


def _key_file(settings: Settings) -> Path:
    if settings.secret_key is not None and settings.secret_key.get_secret_value():
        typer.echo(
            "error: the keys come from INTENT_SECRET_KEY; edit that variable (see "
            "`intent secrets --help`) instead of the key file",
            err=True,
        )
        raise typer.Exit(1)
    return key_file_path(settings)


def _box(settings: Settings) -> SecretBox:
    try:
        return SecretBox.from_settings(settings)
    except SecretKeyError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


async def _census(settings: Settings, box: SecretBox) -> dict[str, int]:
    db = Database(settings.resolved_database_url)
    db.use_secrets(box, may_open=True)
    try:
        await db.migrate()
        return await census(db)
    finally:
        await db.dispose()


def _report(box: SecretBox, counts: dict[str, int]) -> None:
    for index, key_id in enumerate(box.key_ids):
        role = "seals and opens" if index == 0 else "opens"
        typer.echo(f"key {key_id}  {role:15}  {counts.get(key_id, 0)} sealed values")
    for key_id, count in sorted(counts.items()):
        if key_id not in box.key_ids:
            typer.echo(f"key {key_id}  MISSING          {count} sealed values (cannot open)")


@app.command()
def generate() -> None:
    """Print a new key (32 random bytes, urlsafe base64) for INTENT_SECRET_KEY."""
    typer.echo(generate_key())


@app.command()
def status(data_dir: DataOpt = None) -> None:
    """The active keys and how many sealed values each one holds."""
    settings = _settings(data_dir)
    box = _box(settings)
    _report(box, asyncio.run(_census(settings, box)))


@app.command("add-key")
def add_key(data_dir: DataOpt = None) -> None:
    """Add a new key to the key file, last: it opens but does not seal yet."""
    settings = _settings(data_dir)
    path = _key_file(settings)
    keys = [line for line in path.read_text().splitlines() if line.strip()]
    new = generate_key()
    write_key_file(path, [*keys, new])
    typer.echo(
        f"added key {SecretBox([new]).primary_id} to {path}. Restart every intent process "
        "(or copy the file to their hosts first), then run `intent secrets rotate`."
    )


@app.command()
def rotate(
    retire: Annotated[
        bool, typer.Option(help="Drop the keys that no stored value is sealed with any more.")
    ] = False,
    data_dir: DataOpt = None,
) -> None:
    """Make the newest key the sealing one and seal every stored secret again with it."""
    settings = _settings(data_dir)
    from_file = not (settings.secret_key and settings.secret_key.get_secret_value())
    box = _box(settings)
    if from_file and not retire and len(box.key_ids) > 1:
        path = key_file_path(settings)
        keys = [line for line in path.read_text().splitlines() if line.strip()]
        write_key_file(path, [keys[-1], *keys[:-1]])
        box = _box(settings)

    async def run() -> tuple[int, dict[str, int]]:
        db = Database(settings.resolved_database_url)
        db.use_secrets(box, may_open=True)
        try:
            await db.migrate()
            rewritten = await reseal_all(db, box)
            return rewritten, await census(db)
        finally:
            await db.dispose()

    rewritten, counts = asyncio.run(run())
    typer.echo(f"sealed {rewritten} rows again with key {box.primary_id}")
    if retire:
        unused = [k for k in box.key_ids[1:] if not counts.get(k)]
        if from_file and unused:
            path = key_file_path(settings)
            keep = [
                line
                for line in path.read_text().splitlines()
                if line.strip() and SecretBox([line]).primary_id not in unused
            ]
            write_key_file(path, keep)
            box = _box(settings)
        typer.echo(
            f"retired {', '.join(unused) or 'no keys'}"
            + ("" if from_file else " (remove them from INTENT_SECRET_KEY)")
        )
    _report(box, counts)
    if not retire:
        typer.echo("restart every intent process, then `intent secrets rotate --retire`")
