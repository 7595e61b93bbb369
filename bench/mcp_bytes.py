"""What the AI client receives: bytes per walkthrough step over MCP.

    .venv/bin/python bench/mcp_bytes.py

Starts the real stack (``intent up`` in a temporary data dir, sandbox moto, the AWS
provider from a filesystem mirror) and walks the product walkthrough through a real
MCP client. For every tool result it prints the bytes of the result as it arrives
(JSON-RPC ``result``), split into the text blocks (what most clients hand the model)
and ``structuredContent``. Tokens are the client's budget; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.types import CallToolResult, TextContent

from bench.changes import ONLY_BUCKETS, aws_from_mirror, start_stack

BUCKET = {
    "resource_id": "attachments",
    "resource_type": "aws_s3_bucket",
    "config": {"bucket": "dev-attachments-123", "tags": {"Environment": "dev"}},
}

# (label, tool, arguments): the walkthrough's steps, in order.
STEPS: list[tuple[str, str, dict[str, Any]]] = [
    ("create a project", "project-create", {"name": "my-project"}),
    ("use (lock) it", "project-use", {"project": "my-project"}),
    (
        "find the bucket type",
        "provider-describe",
        {"provider": "hashicorp/aws", "filter": "s3_bucket"},
    ),
    ("learn aws_s3_bucket", "provider-resources-describe", {"resource_types": ["aws_s3_bucket"]}),
    ("plan the bucket", "resource-plan", {"operations": [{"kind": "create", **BUCKET}]}),
    ("create the bucket", "lifecycle-resources-create", {"resources": [BUCKET]}),
    ("list the state", "state-list", {}),
    ("show the bucket", "state-get", {"resource_id": "attachments"}),
    (
        "tag it",
        "lifecycle-resources-update",
        {"resources": [{"resource_id": "attachments", "config": {"tags": {"Owner": "web"}}}]},
    ),
    ("write a policy", "policy-create", {"name": "only-buckets", "body": ONLY_BUCKETS}),
    ("attach it", "policy-attach", {"policy": "only-buckets", "project": "my-project"}),
    (
        "a denied queue",
        "lifecycle-resources-create",
        {
            "resources": [
                {
                    "resource_id": "queue",
                    "resource_type": "aws_sqs_queue",
                    "config": {"name": "jobs"},
                }
            ]
        },
    ),
    ("delete the bucket", "lifecycle-resources-delete", {"resource_ids": ["attachments"]}),
    ("the history", "history-list", {}),
    ("release the lock", "project-release", {"project": "my-project"}),
]


def sizes(result: CallToolResult) -> tuple[int, int, int]:
    """(whole result, text blocks, structured content) in bytes of compact JSON."""
    whole = len(result.model_dump_json(by_alias=True, exclude_none=True).encode())
    text = sum(len(b.text.encode()) for b in result.content if isinstance(b, TextContent))
    structured = (
        len(json.dumps(result.structured_content, separators=(",", ":")).encode())
        if result.structured_content is not None
        else 0
    )
    return whole, text, structured


async def walk(url: str, token: str, show: bool) -> list[tuple[str, str, tuple[int, int, int]]]:
    rows = []

    def note(label: str, tool: str, result: CallToolResult) -> None:
        rows.append((label, tool, sizes(result)))
        if show:
            text = "\n".join(b.text for b in result.content if isinstance(b, TextContent))
            print(f"--- {label} ({tool})\n{text}")

    async with (
        create_mcp_http_client(headers={"Authorization": f"Bearer {token}"}) as http,
        Client(streamable_http_client(url, http_client=http)) as client,
    ):
        for label, tool, arguments in STEPS:
            result = await client.call_tool(tool, arguments)
            note(label, tool, result)
            if tool == "lifecycle-resources-delete" and result.structured_content:
                change = result.structured_content.get("change_id")
                if change:  # the user says yes, as the walkthrough does
                    confirmed = await client.call_tool("change-confirm", {"change_id": change})
                    note("confirm the delete", "change-confirm", confirmed)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--show", action="store_true", help="print each result's text too")
    args = parser.parse_args()
    aws_from_mirror()
    with tempfile.TemporaryDirectory(prefix="intent-bench-") as tmp:
        stack = start_stack(Path(tmp) / "data")
        process, base, token = stack.process, stack.base, stack.token
        try:
            rows = asyncio.run(walk(f"{base}/mcp", token, args.show))
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(60)
    print(f"{'step':22} {'tool':30} {'result':>8} {'text':>8} {'struct':>8}")
    totals = [0, 0, 0]
    for label, tool, (whole, text, structured) in rows:
        print(f"{label:22} {tool:30} {whole:8} {text:8} {structured:8}")
        totals = [totals[0] + whole, totals[1] + text, totals[2] + structured]
    print(f"{'total':53} {totals[0]:8} {totals[1]:8} {totals[2]:8}")


if __name__ == "__main__":
    main()
