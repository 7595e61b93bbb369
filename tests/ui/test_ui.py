"""The web UI in a real browser (Debian chromium driven by Playwright).

The walkthrough's UI steps: the project's tabs and lock, resources with their
configuration, history, creating and attaching a policy, attaching an AWS integration,
environment variables, confirming a delete, the policy workbench, unlocking.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from tests.api.mcp_client import mcp_client
from tests.changes.test_lifecycle import bucket_names, call
from tests.support.moto import MotoServer
from tests.support.stack import IntentStack
from tests.ui.axe import violations

pytestmark = pytest.mark.slow


# Pages the walkthrough visited, for the phone pass.
VISITED: set[str] = set()


async def accessible(page: Page, *, remember: bool = True) -> None:
    """Hold the page as it is now to axe-core: no critical or serious violation."""
    found = await violations(page)
    assert not found, "\n".join(found)
    if remember:  # a GET page the phone pass opens again
        VISITED.add(page.url)


async def visit(page: Page, url: str) -> None:
    await page.goto(url)
    await accessible(page)


async def sign_in(
    browser: Browser, stack: IntentStack, name: str, roles: list[str] | None = None
) -> Page:
    password = await stack.password(name, roles)
    page = await browser.new_page()
    await visit(page, f"{stack.base_url}/")
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await page.fill("input[name=name]", name)
    await page.fill("input[name=password]", password)
    await page.click("button:has-text('Sign in')")
    await expect(page.get_by_role("heading", name="Intent projects")).to_be_visible()
    await accessible(page)
    return page


async def test_walkthrough_in_the_browser(
    browser: Browser, aws_stack: IntentStack, moto_server: MotoServer, tmp_path: Path
) -> None:
    base = aws_stack.base_url
    alice_token = await aws_stack.token("alice")

    bad = await browser.new_page()
    await visit(bad, f"{base}/ui/login")
    await bad.fill("input[name=name]", "root")
    await bad.fill("input[name=password]", "not the password")
    await bad.click("button:has-text('Sign in')")
    await expect(bad.get_by_role("alert")).to_contain_text("wrong user name or password")
    await accessible(bad, remember=False)

    page = await sign_in(browser, aws_stack, "root", roles=["space-admin"])
    await page.fill("input[name=name]", "ui-project")
    await page.fill("input[name=labels]", "dev, web")
    await page.click("button:has-text('Create project')")
    await expect(page.get_by_role("status")).to_contain_text("project ui-project created")

    # alice works from her AI client meanwhile.
    async with mcp_client(aws_stack.mcp_url, alice_token) as client:
        await call(client, "project-use", {"project": "ui-project"})
        created = await call(
            client,
            "lifecycle-resources-create",
            {
                "resources": [
                    {
                        "resource_id": "attachments",
                        "resource_type": "aws_s3_bucket",
                        "config": {
                            "bucket": "ui-attachments",
                            "tags": {"Environment": "dev", "Owner": "platform-team"},
                        },
                    }
                ]
            },
        )
        assert created["status"] == "applied", created

    await visit(page, f"{base}/ui/projects/ui-project")
    await expect(page.locator("#lock-state")).to_contain_text("Locked by alice")
    resources = page.locator("#resources")
    await expect(resources).to_contain_text("attachments")
    await expect(resources).to_contain_text("Owner=platform-team")
    await page.click("#resources a:has-text('attachments')")
    await accessible(page)
    await expect(page.locator("#config")).to_contain_text('"Environment": "dev"')
    await expect(page.locator("#state")).to_contain_text('"arn": "arn:aws:s3:::ui-attachments"')

    await visit(page, f"{base}/ui/projects/ui-project?tab=history")
    history = page.locator("#history")
    await expect(history).to_contain_text("resource create attachments")
    await expect(history).to_contain_text("alice via mcp")

    # Create a policy from the library and attach it, as the walkthrough does in the UI.
    await visit(page, f"{base}/ui/policies")
    # The Rego editor is code: monospace, lines kept whole (long ones scroll).
    editor = await page.evaluate(
        "(() => { const s = getComputedStyle(document.querySelector('#policy-body'));"
        " return [s.whiteSpace, s.fontFamily]; })()"
    )
    assert editor[0] == "pre" and "monospace" in editor[1], editor
    icon = await page.request.get(f"{base}/favicon.ico")
    assert icon.ok and icon.headers["content-type"].startswith("image/svg+xml")
    await page.click("button.example[data-example='only_s3_buckets']")
    await expect(page.locator("#policy-body")).to_have_value(re.compile("only manage S3 buckets"))
    await page.fill("input[name=name]", "only-s3")
    await page.click("button:has-text('Create policy')")
    await expect(page.get_by_role("status")).to_contain_text("policy only-s3 created")
    await visit(page, f"{base}/ui/projects/ui-project?tab=policies")
    await page.select_option("select[name=policy]", "only-s3")
    await page.click("button:has-text('Attach')")
    await expect(page.locator("#project-policies")).to_contain_text("only-s3")
    await expect(page.locator("#project-policies")).to_contain_text("attached")

    # An AWS integration: intent shows the external id it generated in the trust policy.
    await visit(page, f"{base}/ui/integrations")
    await page.fill("input[name=name]", "prod-aws")
    await page.fill("input[name=role_arn]", "arn:aws:iam::210987654321:role/intent-writer")
    await page.select_option("select[name=region]", "eu-west-1")
    await page.click("button:has-text('Create integration')")
    await expect(page.get_by_role("status")).to_contain_text("integration prod-aws created")
    trust = page.locator("#trust-policy")
    await expect(trust).to_contain_text("sts:ExternalId")
    await expect(trust).to_contain_text("intent-")
    await expect(page.locator("#integration-settings")).to_contain_text("210987654321")
    await accessible(page)

    # Attach AWS integration: pick one, a region, and both switches.
    await visit(page, f"{base}/ui/projects/ui-project?tab=integrations")
    await expect(page.locator("#integrations")).to_contain_text("sandbox")
    # The project's bucket lives in us-east-1: another region is refused, saying why.
    await page.select_option("select[name=integration]", "sandbox")
    await page.select_option("select[name=region]", "eu-west-1")
    await page.check("input[name=read]")
    await page.check("input[name=write]")
    await page.click("form[action$='/integrations'] button:has-text('Attach')")
    await expect(page.get_by_role("alert")).to_contain_text("region us-east-1")
    await expect(page.get_by_role("alert")).to_contain_text("relocate")
    await page.select_option("select[name=integration]", "sandbox")
    await page.select_option("select[name=region]", "us-east-1")
    await page.check("input[name=read]")
    await page.check("input[name=write]")
    await page.click("form[action$='/integrations'] button:has-text('Attach')")
    await expect(page.get_by_role("status")).to_contain_text("integration sandbox attached")
    await expect(page.locator("#integrations")).to_contain_text("us-east-1")
    await expect(page.locator("#integrations")).to_contain_text("Read + Write")

    await visit(page, f"{base}/ui/projects/ui-project?tab=environment")
    await page.fill("input[name=name]", "DEPLOY_KEY")
    await page.fill("input[name=value]", "very-secret-value")
    await page.click("button:has-text('Save')")
    environment = page.locator("#environment")
    await expect(environment).to_contain_text("DEPLOY_KEY")
    await expect(environment).to_contain_text("********")
    assert "very-secret-value" not in await page.content()

    # alice asks for a delete; a human confirms it in the UI.
    async with mcp_client(aws_stack.mcp_url, alice_token) as client:
        waiting = await call(
            client, "lifecycle-resources-delete", {"resource_ids": ["attachments"]}
        )
    assert waiting["status"] == "awaiting_confirmation", waiting
    await visit(page, f"{base}/ui/changes/{waiting['change_id']}")
    await expect(page.locator("#change-status")).to_have_text("awaiting confirmation")
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Delete attachments")
    await page.fill("input[name=comment]", "checked in the UI")
    await page.click("button:has-text('Confirm')")
    for _ in range(100):
        await visit(page, f"{base}/ui/changes/{waiting['change_id']}")
        if (await page.locator("#change-status").inner_text()) == "applied":
            break
        await page.wait_for_timeout(100)
    await expect(page.locator("#change-status")).to_have_text("applied")
    assert "ui-attachments" not in bucket_names(moto_server)

    # The policy workbench.
    await visit(page, f"{base}/ui/policies/only-s3")
    await page.click("#workbench button:has-text('Simulate')")
    await expect(page.locator("#simulation")).to_contain_text("allowed")
    await accessible(page, remember=False)
    await page.fill(
        "#workbench textarea[name=input_json]",
        '{"resource": {"resource_id": "vm", "resource_type": "aws_instance"}}',
    )
    await page.click("#workbench button:has-text('Simulate')")
    await expect(page.locator("#simulation")).to_contain_text("denied")
    await expect(page.locator("#simulation")).to_contain_text("vm is of type aws_instance")
    await accessible(page, remember=False)

    await visit(page, f"{base}/ui/projects/ui-project")
    await page.screenshot(path=str(tmp_path / "project.png"), full_page=True)
    await page.click("button:has-text('Unlock')")
    await expect(page.get_by_role("status")).to_contain_text("unlocked")
    await expect(page.locator("#lock-state")).to_have_text("Not locked")

    # The access page (spaces, roles, users, keys, audit), then every page again on a
    # phone: still accessible, and nothing wider than the screen.
    await visit(page, f"{base}/ui/access")
    await page.set_viewport_size({"width": 390, "height": 844})
    # Only this stack's pages: other tests sign in through the same helpers.
    for url in sorted(u for u in VISITED if u.startswith(base)):
        await visit(page, url)
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{url} is {width}px wide at a 390px viewport"
    await page.screenshot(path=str(tmp_path / "phone.png"), full_page=True)


async def test_cross_site_posts_and_anonymous_pages_are_refused(
    browser: Browser, stack: IntentStack
) -> None:
    page = await browser.new_page()
    await page.goto(f"{stack.base_url}/ui/projects")
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    http = await stack.signed_in("root", roles=["space-admin"])
    listing = await http.get("/ui/projects")
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', listing.text)
    assert csrf is not None
    forged = await http.post(
        "/ui/projects",
        data={"name": "forged", "csrf": csrf.group(1)},
        headers={"Origin": "https://evil.example"},
    )
    assert forged.status_code == 403
    stale = await http.post(
        "/ui/projects", data={"name": "stale"}, headers={"Origin": stack.base_url}
    )
    assert stale.status_code == 403
    same = await http.post(
        "/ui/projects",
        data={"name": "fine", "csrf": csrf.group(1)},
        headers={"Origin": stack.base_url},
    )
    assert same.status_code == 303
