"""``intent policy …``: write, test and manage Intent policies.

``test`` runs locally; the management commands talk to a running server's REST API.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from cli.remote import Remote, fail, print_json
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


# -- management, through the REST API ---------------------------------------------------

UrlOpt = Annotated[str | None, typer.Option(help="Server URL (default $INTENT_URL).")]
TokenOpt = Annotated[str | None, typer.Option(help="Bearer token (default $INTENT_TOKEN).")]
LabelOpt = Annotated[
    list[str] | None, typer.Option("--label", help="Label; autoattach:<label> or autoattach:*")
]


def _remote(url: str | None, token: str | None) -> Remote:
    return Remote(url, token)


@app.command("list")
def list_(url: UrlOpt = None, token: TokenOpt = None) -> None:
    """Policies and where they are attached."""
    page = _remote(url, token).request("GET", "/policies", params={"limit": 200})
    for policy in page["policies"]:
        attached = ", ".join(policy["attached_projects"]) or "-"
        labels = ", ".join(policy["labels"]) or "-"
        typer.echo(f"{policy['name']:30} attached: {attached:30} labels: {labels}")


@app.command()
def show(name: str, url: UrlOpt = None, token: TokenOpt = None) -> None:
    """A policy's body and metadata."""
    print_json(_remote(url, token).request("GET", f"/policies/{name}"))


@app.command()
def create(
    name: str,
    file: Annotated[Path, typer.Argument(help="The .rego file")],
    description: str = "",
    label: LabelOpt = None,
    v0: Annotated[bool, typer.Option("--v0", help="Rego v0 syntax.")] = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Create a policy from a file (validated at once: errors name line and column)."""
    body = {
        "name": name,
        "body": file.read_text(),
        "description": description,
        "labels": label or [],
        "rego_version": "v0" if v0 else "v1",
    }
    created = _remote(url, token).request("POST", "/policies", json=body)
    typer.echo(f"created policy {created['name']} ({created['id']})")


@app.command()
def update(
    name: str,
    file: Annotated[Path | None, typer.Argument(help="New .rego body")] = None,
    description: str | None = None,
    label: LabelOpt = None,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Replace a policy's body, description or labels."""
    body: dict[str, object] = {}
    if file is not None:
        body["body"] = file.read_text()
    if description is not None:
        body["description"] = description
    if label is not None:
        body["labels"] = label
    if not body:
        fail("nothing to update: give a file, --description or --label")
    updated = _remote(url, token).request("PATCH", f"/policies/{name}", json=body)
    typer.echo(f"updated policy {updated['name']}")


@app.command()
def attach(name: str, project: str, url: UrlOpt = None, token: TokenOpt = None) -> None:
    """Attach a policy to a project."""
    _remote(url, token).request("PUT", f"/projects/{project}/policies/{name}")
    typer.echo(f"attached {name} to {project}")


@app.command()
def detach(name: str, project: str, url: UrlOpt = None, token: TokenOpt = None) -> None:
    """Detach a policy from a project."""
    _remote(url, token).request("DELETE", f"/projects/{project}/policies/{name}")
    typer.echo(f"detached {name} from {project}")


@app.command()
def simulate(
    name: str,
    sample: Annotated[str | None, typer.Option(help="Use this kept sample's input")] = None,
    input_file: Annotated[Path | None, typer.Option("--input", help="JSON input file")] = None,
    body_file: Annotated[Path | None, typer.Option("--body", help="Try this .rego instead")] = None,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Evaluate a policy against a sample or an input; prints the decision."""
    request: dict[str, object] = {}
    if sample:
        request["sample_id"] = sample
    if input_file is not None:
        request["input"] = json.loads(input_file.read_text())
    if body_file is not None:
        request["body"] = body_file.read_text()
    print_json(_remote(url, token).request("POST", f"/policies/{name}/simulate", json=request))


@app.command()
def samples(name: str, limit: int = 10, url: UrlOpt = None, token: TokenOpt = None) -> None:
    """Evaluations the policy kept (sample = true), newest first."""
    print_json(
        _remote(url, token).request("GET", f"/policies/{name}/samples", params={"limit": limit})
    )


@app.command("delete")
def delete(name: str, url: UrlOpt = None, token: TokenOpt = None) -> None:
    """Delete a policy (refused while it governs a project)."""
    _remote(url, token).request("DELETE", f"/policies/{name}")
    typer.echo(f"deleted policy {name}")


@app.command("input-schema")
def input_schema_(
    example: Annotated[bool, typer.Option(help="Print only the example input.")] = False,
) -> None:
    """What a policy is given (JSON Schema of `input`), an example and the rules; the same
    contract the server evaluates policies with (no server needed)."""
    from policies.input import input_schema

    contract = input_schema()
    print_json(contract.example if example else contract.model_dump(mode="json"))
