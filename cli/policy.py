"""``intent policy …``: write and test Intent policies (management commands join later)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from policies.models import RegoVersion
from policies.testing import (
    DEFAULT_TEST_TIMEOUT_SECONDS,
    OUTCOMES,
    PolicyTestReport,
    PolicyTestResult,
    run_policy_tests,
)

__all__ = ["app"]

app = typer.Typer(help="Write, test and manage Intent policies.", no_args_is_help=True)


@app.callback()
def _policy() -> None:
    """Write, test and manage Intent policies."""
    # A callback keeps ``test`` a sub-command even while it is the only one.


_MARK = {"pass": "PASS", "fail": "FAIL", "error": "ERROR"}


@app.command("test")
def test(
    path: Annotated[
        Path,
        typer.Argument(help="Directory to search for *_test.rego files (or one such file)."),
    ],
    run: Annotated[
        str | None,
        typer.Option("--run", "-r", help="Only tests whose full name or file matches this regex."),
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Show prints of passing tests too.")
    ] = False,
    timeout: Annotated[
        float, typer.Option(help="Time limit per test, in seconds.", min=0.001)
    ] = DEFAULT_TEST_TIMEOUT_SECONDS,
    v0: Annotated[bool, typer.Option("--v0", help="Parse the files as Rego v0.")] = False,
) -> None:
    """Run the test_* rules of *_test.rego files, each against its policy (NAME.rego)."""
    if not path.exists():
        typer.echo(f"{path} does not exist", err=True)
        raise typer.Exit(2)
    rego_version: RegoVersion = "v0" if v0 else "v1"
    current_file: list[str] = []

    def show(result: PolicyTestResult) -> None:
        if current_file[-1:] != [result.file]:
            current_file.append(result.file)
            typer.echo(f"{result.file}:")
        typer.echo(f"  {_MARK[result.outcome]:<5} {result.name} ({result.duration_ms:.1f}ms)")
        if result.outcome != "pass" and result.message:
            typer.echo(f"        {result.message}")
        if result.prints and (verbose or result.outcome != "pass"):
            typer.echo("        prints:")
            for line in result.prints:
                typer.echo(f"          {line}")

    try:
        report = run_policy_tests(
            path, run=run, timeout_seconds=timeout, rego_version=rego_version, on_result=show
        )
    except Exception as exc:  # a bad --run regex, an unreadable file …
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    _summary(report, filtered=run is not None)
    raise typer.Exit(0 if report.ok else 1)


def _summary(report: PolicyTestReport, *, filtered: bool) -> None:
    for error in report.errors:
        typer.echo(f"ERROR {error}")
    total = len(report.results)
    if total:
        typer.echo("-" * 60)
        for outcome in OUTCOMES:
            count = report.count(outcome)
            if count:
                typer.echo(f"{_MARK[outcome]}: {count}/{total}")
    elif not report.errors:
        typer.echo("no tests matched --run" if filtered else "no tests found")
    if report.errors:
        typer.echo(f"{len(report.errors)} file(s) did not compile")


if __name__ == "__main__":
    app()
