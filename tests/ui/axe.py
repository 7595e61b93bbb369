"""axe-core in the page: accessibility violations a browser test can assert on."""

from __future__ import annotations

from typing import Any

from playwright.async_api import Page

from tests.support.node import node_module

__all__ = ["BLOCKING", "violations"]

# What must be fixed: axe's two highest impacts.
BLOCKING = frozenset({"critical", "serious"})


async def violations(page: Page) -> list[str]:
    """Critical and serious axe-core violations on the page as it is now, one line each."""
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        await page.add_script_tag(path=str(node_module("axe-core", "axe.min.js")))
    results: dict[str, Any] = await page.evaluate("axe.run(document)")
    found = []
    for violation in results["violations"]:
        if violation["impact"] in BLOCKING:
            targets = [" ".join(map(str, node["target"])) for node in violation["nodes"][:5]]
            found.append(f"{page.url}: {violation['id']} ({violation['impact']}): {targets}")
    return found
