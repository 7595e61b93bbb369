"""The lifecycle in a real browser: the TTL banner, drift marks on the Resources tab,
what each change did on the History tab, and reverting a change from its page."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, expect

from tests.api.mcp_client import mcp_client
from tests.changes.test_lifecycle import bucket_tags, call
from tests.support.moto import MotoServer
from tests.support.stack import IntentStack
from tests.ui.test_ui import sign_in

pytestmark = pytest.mark.slow


async def test_ttl_drift_history_and_revert_in_the_browser(
    browser: Browser, aws_stack: IntentStack, moto_server: MotoServer
) -> None:
    token = await aws_stack.token("root", ["space-admin"])
    async with mcp_client(aws_stack.mcp_url, token) as client:
        await call(client, "project-create", {"name": "ui-life", "ttl": "2h"})
        await call(client, "project-use", {"project": "ui-life"})
        await call(
            client,
            "lifecycle-resources-create",
            {
                "resources": [
                    {
                        "resource_id": "b",
                        "resource_type": "aws_s3_bucket",
                        "config": {"bucket": "ui-life-b", "tags": {"Team": "web"}},
                    }
                ]
            },
        )
        tagged = await call(
            client,
            "lifecycle-resources-update",
            {"resources": [{"resource_id": "b", "config": {"tags": {"Team": "ops"}}}]},
        )
        moto_server.client("s3").put_bucket_tagging(
            Bucket="ui-life-b", Tagging={"TagSet": [{"Key": "Team", "Value": "sre"}]}
        )
        await call(client, "lifecycle-resources-refresh", {})

    page = await sign_in(browser, aws_stack, "root", roles=["space-admin"])
    await page.goto(f"{aws_stack.base_url}/ui/projects/ui-life")
    await expect(page.locator("#ttl-notice")).to_contain_text("expires")
    row = page.locator("#resources tbody tr", has_text="ui-life-b")
    await expect(row.locator(".drift")).to_have_text("drifted")
    await expect(row.locator("ul.changes")).to_contain_text('tags["Team"]')

    await page.goto(f"{aws_stack.base_url}/ui/projects/ui-life?tab=history")
    update = page.locator("#history tbody tr", has_text="resource update").first
    await expect(update.locator("ul.changes")).to_contain_text('tags["Team"]')

    await page.goto(f"{aws_stack.base_url}/ui/changes/{tagged['change_id']}")
    await page.click("button:has-text('Revert this change')")
    await expect(page.get_by_role("status")).to_contain_text("reverting change")
    for _ in range(60):
        await page.reload()
        if await page.locator("#change-status").inner_text() == "applied":
            break
        await page.wait_for_timeout(500)
    await expect(page.locator("#change-status")).to_have_text("applied")
    assert bucket_tags(moto_server, "ui-life-b") == {"Team": "web"}
