"""The official MCP conformance suite's server scenarios against the live server.

Only the scenarios that exercise what intent offers run here; the others call fixture
tools, prompts and resources of the suite's reference server (``test_simple_text``,
``test://static-text``, ...) or capabilities intent does not declare. Which and why:
docs/mcp-conformance.md. The suite cannot send a bearer token, so a local proxy adds it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.support.node import node_tool
from tests.support.proxy import token_proxy
from tests.support.stack import IntentStack

pytestmark = pytest.mark.slow

SCENARIOS = (
    "server-initialize",
    "ping",
    "tools-list",
    "prompts-list",
    "resources-list",
    "server-sse-multiple-streams",
)


async def test_conformance_scenarios_that_apply(stack: IntentStack, tmp_path: Path) -> None:
    conformance = node_tool("conformance")
    token = await stack.token("conformance")
    failures = []
    async with token_proxy(stack.base_url, token) as base:
        for scenario in SCENARIOS:
            process = await asyncio.create_subprocess_exec(
                str(conformance),
                "server",
                "--url",
                f"{base}/mcp",
                "--scenario",
                scenario,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                cwd=tmp_path,  # it writes results/ into its working directory
            )
            output, _ = await asyncio.wait_for(process.communicate(), 120)
            text = output.decode(errors="replace")
            if process.returncode != 0 or "0 failed, 0 warnings" not in text:
                failures.append(f"--- {scenario} (exit {process.returncode})\n{text}")
    assert not failures, "\n".join(failures)
