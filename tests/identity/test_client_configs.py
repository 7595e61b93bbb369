"""``intent mcp-config``: every client's snippet in its own format, and the real clients
(installed from npm into a temporary HOME) reading what it printed: Claude Code and
Gemini CLI connect with an API key, Claude Code finds the OAuth sign-in without one,
Codex lists the server and signs in through the browser with ``codex mcp login``."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from playwright.async_api import Browser
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner

from cli import app
from cli.mcp_config import Client, render
from tests.support.requirements import require
from tests.support.stack import IntentStack, run_stack

URL = "https://intent.example.com/mcp"
# The versions these tests were written against (each client's format is its own).
CLIENT_PACKAGES = {
    "claude": "@anthropic-ai/claude-code@2.1.197",
    "gemini": "@google/gemini-cli@0.61.0",
    "codex": "@openai/codex@0.169.0",
}


def printed(*args: str) -> str:
    result = CliRunner().invoke(app, ["mcp-config", *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_each_client_gets_its_own_format() -> None:
    claude = json.loads(printed("claude-code", "--url", URL))
    assert claude == {"mcpServers": {"intent": {"type": "http", "url": URL}}}
    keyed = json.loads(printed("claude-code", "--url", URL, "--token-env", "INTENT_TOKEN"))
    assert keyed["mcpServers"]["intent"]["headers"] == {"Authorization": "Bearer ${INTENT_TOKEN}"}

    gemini = json.loads(printed("gemini", "--url", URL, "--token-env", "CI_KEY"))
    assert gemini == {
        "mcpServers": {"intent": {"httpUrl": URL, "headers": {"Authorization": "Bearer ${CI_KEY}"}}}
    }

    codex = tomllib.loads(printed("codex", "--url", URL, "--token-env", "INTENT_TOKEN"))
    expected = {"url": URL, "bearer_token_env_var": "INTENT_TOKEN"}
    assert codex == {"mcp_servers": {"intent": expected}}
    assert "headers" not in printed("codex", "--url", URL, "--token-env", "INTENT_TOKEN")

    vscode = json.loads(printed("vscode", "--url", URL, "--token-env", "INTENT_TOKEN"))
    server = vscode["servers"]["intent"]
    assert server["type"] == "http" and server["url"] == URL
    assert server["headers"]["Authorization"] == "Bearer ${input:intent-key}"
    assert vscode["inputs"][0]["id"] == "intent-key" and vscode["inputs"][0]["password"]
    assert "mcpServers" not in vscode

    cursor = json.loads(printed("cursor", "--url", URL, "--token-env", "INTENT_TOKEN"))
    assert cursor["mcpServers"]["intent"]["headers"] == {
        "Authorization": "Bearer ${env:INTENT_TOKEN}"
    }

    desktop = json.loads(printed("claude-desktop", "--url", URL))
    assert desktop == {
        "mcpServers": {"intent": {"command": "npx", "args": ["-y", "mcp-remote", URL]}}
    }

    # Signing in through OAuth needs no secret in any file.
    for client in Client:
        assert "Bearer" not in render(client, URL).text

    default = json.loads(printed("claude-code"))
    assert default["mcpServers"]["intent"]["url"].endswith("/mcp")
    bad = CliRunner().invoke(app, ["mcp-config", "cursor", "--token-env", "$(rm -rf)"])
    assert bad.exit_code != 0


# -- the real clients (slow: they come from npm) --------------------------------------------


@pytest.fixture(scope="session")
def mcp_clients() -> Path:
    """The three CLIs, installed once into the virtualenv (reused by later runs)."""
    npm = shutil.which("npm")
    require(npm, "npm (Node.js 20)")
    assert npm is not None
    prefix = Path(sys.prefix) / "mcp-clients"
    stamp = prefix / "installed.json"
    wanted = json.dumps(CLIENT_PACKAGES, sort_keys=True)
    if not stamp.exists() or stamp.read_text() != wanted:
        subprocess.run(
            [
                npm,
                "install",
                "--no-audit",
                "--no-fund",
                "--prefix",
                str(prefix),
                *CLIENT_PACKAGES.values(),
            ],
            check=True,
            capture_output=True,
            timeout=900,
        )
        stamp.write_text(wanted)
    return prefix / "node_modules" / ".bin"


class Clients:
    """The CLIs with a private HOME, run in a project directory."""

    def __init__(self, bin_dir: Path, home: Path, project: Path) -> None:
        self.bin_dir = bin_dir
        self.home = home
        self.project = project
        home.mkdir(parents=True, exist_ok=True)
        project.mkdir(parents=True, exist_ok=True)

    def env(self, **extra: str) -> dict[str, str]:
        keep = {k: v for k, v in os.environ.items() if not k.startswith(("INTENT_", "CI"))}
        return {
            **keep,
            "HOME": str(self.home),
            "PATH": f"{self.bin_dir}:{os.environ['PATH']}",
            "NO_COLOR": "1",
            **extra,
        }

    async def run(self, *argv: str, **extra: str) -> str:
        done = await asyncio.to_thread(
            subprocess.run,
            list(argv),
            cwd=self.project,
            env=self.env(**extra),
            capture_output=True,
            text=True,
            timeout=180,
        )
        return done.stdout + done.stderr

    def write(self, relative: str, text: str, *, under_home: bool = False) -> None:
        path = (self.home if under_home else self.project) / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


@pytest.mark.slow
async def test_claude_code_and_gemini_cli_connect_with_the_printed_config(
    mcp_clients: Path, stack: IntentStack, tmp_path: Path
) -> None:
    clients = Clients(mcp_clients, tmp_path / "home", tmp_path / "repo")
    key = await stack.token("ci-bot")
    url = stack.mcp_url

    clients.write(".mcp.json", printed("claude-code", "--url", url, "--token-env", "INTENT_TOKEN"))
    # What approving the project's servers on first start records (Claude Code asks).
    clients.write(
        ".claude.json",
        json.dumps(
            {
                "projects": {
                    str(clients.project): {
                        "enabledMcpjsonServers": ["intent"],
                        "hasTrustDialogAccepted": True,
                    }
                }
            }
        ),
        under_home=True,
    )
    listed = await clients.run("claude", "mcp", "list", INTENT_TOKEN=key)
    assert re.search(rf"intent: {re.escape(url)} \(HTTP\) - \S+ Connected", listed), listed
    clients.write(".mcp.json", printed("claude-code", "--url", url))
    listed = await clients.run("claude", "mcp", "list")
    # No key: Claude Code found the OAuth sign-in (run /mcp to do it in the browser).
    assert "Needs authentication" in listed, listed

    clients.write(
        ".gemini/settings.json", printed("gemini", "--url", url, "--token-env", "INTENT_TOKEN")
    )
    clients.write(
        ".gemini/trustedFolders.json",
        json.dumps({str(clients.project): "TRUST_FOLDER"}),
        under_home=True,
    )
    listed = await clients.run("gemini", "mcp", "list", INTENT_TOKEN=key)
    assert re.search(rf"intent: {re.escape(url)} \(http\) - Connected", listed), listed


@pytest.mark.slow
async def test_codex_lists_the_server_and_signs_in_through_the_browser(
    mcp_clients: Path, browser: Browser, temporal_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    # Codex identifies itself with a client metadata document on chatgpt.com, which
    # this offline test server cannot fetch: with documents off, Codex registers instead.
    async with run_stack(temporal_env, tmp_path, oauth_client_metadata_documents=False) as stack:
        clients = Clients(mcp_clients, tmp_path / "home", tmp_path / "repo")
        url = stack.mcp_url
        clients.write(
            ".codex/config.toml",
            printed("codex", "--url", url, "--token-env", "INTENT_TOKEN"),
            under_home=True,
        )
        listed = await clients.run("codex", "mcp", "list")
        assert re.search(rf"intent\s+{re.escape(url)}\s+INTENT_TOKEN\s+enabled", listed), listed

        clients.write(".codex/config.toml", printed("codex", "--url", url), under_home=True)
        assert re.search(r"Not logged in", await clients.run("codex", "mcp", "list"))

        password = await stack.password("codi")
        login = await asyncio.create_subprocess_exec(
            "codex",
            "mcp",
            "login",
            "intent",
            cwd=clients.project,
            env=clients.env(),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        assert login.stdout is not None
        authorize = None
        while authorize is None:
            line = (await asyncio.wait_for(login.stdout.readline(), 60)).decode()
            assert line, "codex mcp login ended without printing the authorization URL"
            found = re.search(r"(http://\S+/oauth/authorize\S+)", line)
            authorize = found.group(1) if found else None
        page = await browser.new_page()
        await page.goto(authorize)
        await page.fill("input[name=name]", "codi")
        await page.fill("input[name=password]", password)
        await page.click("button:has-text('Sign in')")
        await page.click("button:has-text('Allow')")
        await page.wait_for_url(re.compile(r"http://127\.0\.0\.1:\d+/callback\?code="))
        rest = (await asyncio.wait_for(login.stdout.read(), 60)).decode()
        assert await login.wait() == 0, rest
        assert "Successfully logged in to MCP server 'intent'" in rest
        listed = await clients.run("codex", "mcp", "list")
        assert re.search(rf"intent\s+{re.escape(url)}\s+-\s+enabled\s+OAuth", listed), listed
