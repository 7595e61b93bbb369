"""``intent mcp-config CLIENT``: the configuration each MCP client accepts for this server.

Each client reads its own file in its own format, and they differ in ways that fail
silently (tried with the real clients):

- Claude Code skips a ``.mcp.json`` entry without ``"type": "http"``.
- Gemini CLI takes ``httpUrl`` (streamable HTTP) and expands ``${VAR}`` in headers.
- Codex wants ``[mcp_servers.NAME]`` with ``url`` and ``bearer_token_env_var``; a
  ``headers`` key is ignored without a word. ``codex mcp login NAME`` signs in.
- VS Code wants top-level ``servers``, ``"type": "http"``, and ``${input:…}`` with an
  ``inputs`` entry for secrets.
- Cursor interpolates ``${env:NAME}``, not ``${NAME}``.

Without ``--token-env`` the snippets carry no secret at all: the client signs the user
in through this server's OAuth authorization server on first use. The configuration
goes to stdout (redirect it into the file); where it goes and what to do next, to stderr.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any

import typer

from cli.local import local_settings

__all__ = ["CLIENTS", "ClientConfig", "mcp_config", "render"]

SERVER = "intent"


class Client(StrEnum):
    claude_code = "claude-code"
    claude_desktop = "claude-desktop"
    gemini = "gemini"
    codex = "codex"
    vscode = "vscode"
    cursor = "cursor"


@dataclass(frozen=True)
class ClientConfig:
    """What to write, where, and what the user does next."""

    text: str
    path: str
    next_step: str


def _json(value: dict[str, Any]) -> str:
    return json.dumps(value, indent=2) + "\n"


def _claude_code(url: str, token_env: str | None) -> ClientConfig:
    entry: dict[str, Any] = {"type": "http", "url": url}
    if token_env:
        entry["headers"] = {"Authorization": f"Bearer ${{{token_env}}}"}
    step = (
        f"export {token_env}=<API key> before starting claude"
        if token_env
        else f"start claude, run /mcp, pick {SERVER} and sign in in the browser"
    )
    return ClientConfig(
        _json({"mcpServers": {SERVER: entry}}),
        f".mcp.json at your repository root (or: claude mcp add --transport http {SERVER} {url})",
        step,
    )


def _claude_desktop(url: str, token_env: str | None) -> ClientConfig:
    # Desktop's config file starts local (stdio) servers only; mcp-remote bridges to
    # HTTP and runs the OAuth sign-in itself. (Custom connectors, Settings → Connectors,
    # take the URL directly but are reached from Anthropic's cloud: public https only.)
    args = ["-y", "mcp-remote", url]
    entry: dict[str, Any] = {"command": "npx", "args": args}
    if token_env:
        args += ["--header", f"Authorization: Bearer ${{{token_env}}}"]
        entry["env"] = {token_env: f"<your {token_env}>"}
    return ClientConfig(
        _json({"mcpServers": {SERVER: entry}}),
        "claude_desktop_config.json (Settings → Developer → Edit Config); for a public "
        f"https server, Settings → Connectors → Add custom connector with {url} works too",
        "restart Claude Desktop" + ("" if token_env else "; a browser opens to sign you in"),
    )


def _gemini(url: str, token_env: str | None) -> ClientConfig:
    entry: dict[str, Any] = {"httpUrl": url}
    if token_env:
        entry["headers"] = {"Authorization": f"Bearer ${{{token_env}}}"}
    return ClientConfig(
        _json({"mcpServers": {SERVER: entry}}),
        ".gemini/settings.json in your project (or ~/.gemini/settings.json)",
        f"export {token_env}=<API key> before starting gemini"
        if token_env
        else f"start gemini and run /mcp auth {SERVER}",
    )


def _codex(url: str, token_env: str | None) -> ClientConfig:
    lines = [f"[mcp_servers.{SERVER}]", f'url = "{url}"']
    if token_env:
        lines.append(f'bearer_token_env_var = "{token_env}"')
    return ClientConfig(
        "\n".join(lines) + "\n",
        "~/.codex/config.toml (append)",
        f"export {token_env}=<API key> before starting codex"
        if token_env
        else f"run: codex mcp login {SERVER}",
    )


def _vscode(url: str, token_env: str | None) -> ClientConfig:
    entry: dict[str, Any] = {"type": "http", "url": url}
    config: dict[str, Any] = {"servers": {SERVER: entry}}
    if token_env:
        entry["headers"] = {"Authorization": "Bearer ${input:intent-key}"}
        config["inputs"] = [
            {
                "type": "promptString",
                "id": "intent-key",
                "description": f"intent API key (the value of {token_env})",
                "password": True,
            }
        ]
    return ClientConfig(
        _json(config),
        ".vscode/mcp.json in your workspace",
        "VS Code asks for the key on first start"
        if token_env
        else "start the server from the MCP view; VS Code opens the browser to sign you in",
    )


def _cursor(url: str, token_env: str | None) -> ClientConfig:
    entry: dict[str, Any] = {"url": url}
    if token_env:
        entry["headers"] = {"Authorization": f"Bearer ${{env:{token_env}}}"}
    return ClientConfig(
        _json({"mcpServers": {SERVER: entry}}),
        ".cursor/mcp.json in your project (or ~/.cursor/mcp.json)",
        f"start Cursor with {token_env} in its environment"
        if token_env
        else "open Cursor Settings → MCP and press Login next to intent",
    )


CLIENTS = {
    Client.claude_code: _claude_code,
    Client.claude_desktop: _claude_desktop,
    Client.gemini: _gemini,
    Client.codex: _codex,
    Client.vscode: _vscode,
    Client.cursor: _cursor,
}


def render(client: Client, url: str, token_env: str | None = None) -> ClientConfig:
    return CLIENTS[client](url, token_env)


def mcp_config(
    client: Annotated[Client, typer.Argument(help="The MCP client to configure.")],
    url: Annotated[
        str | None, typer.Option(help="MCP URL (default: this server's, from INTENT_PUBLIC_URL).")
    ] = None,
    token_env: Annotated[
        str | None,
        typer.Option(
            help="Send the API key from this environment variable instead of signing in "
            "through OAuth (e.g. INTENT_TOKEN, for CI)."
        ),
    ] = None,
) -> None:
    """Print a configuration CLIENT accepts for this server, in its own format."""
    if token_env is not None and not token_env.replace("_", "").isalnum():
        raise typer.BadParameter("an environment variable name: letters, digits and _")
    target = url or f"{local_settings().base_url}/mcp"
    config = render(client, target, token_env)
    typer.echo(f"# write to {config.path}", err=True)
    typer.echo(f"# then: {config.next_step}", err=True)
    typer.echo(config.text, nl=False)
