"""The console recovers from a facilitator link that was cut short, and a phone's
offline notice fits a narrow screen."""

from __future__ import annotations

from conftest import PHONE_VIEWPORT
from playwright.async_api import Browser, expect
from support import ServerProcess


async def test_console_recovers_from_cut_link(server: ServerProcess, browser: Browser) -> None:
    workshop = await server.create_workshop()
    console_url = f"{server.url}/console/{workshop['id']}"
    context = await browser.new_context()
    page = await context.new_page()

    await page.goto(f"{console_url}#token={workshop['facilitator_token'][:20]}")
    await expect(page.get_by_label("Facilitator link or token")).to_be_visible()
    await expect(page.locator("#console-error")).to_contain_text("link is incomplete")
    assert "#" not in page.url

    # Pasting the whole link over the address changes only the fragment: no reload.
    await page.evaluate(
        "token => { location.hash = 'token=' + token; }", workshop["facilitator_token"]
    )
    await expect(page.locator("#connection-status")).to_have_attribute("data-state", "connected")
    await expect(page.get_by_label("Facilitator link or token")).to_be_hidden()

    await context.close()


async def test_console_forgets_rejected_token(server: ServerProcess, browser: Browser) -> None:
    workshop = await server.create_workshop()
    console_url = f"{server.url}/console/{workshop['id']}"
    context = await browser.new_context()
    page = await context.new_page()
    wrong = "x" * 43

    await page.goto(f"{console_url}#token={wrong}")
    await expect(page.locator("#console-error")).to_contain_text("does not match")
    stored = await page.evaluate(
        "key => localStorage.getItem(key)", f"common-ground:facilitator:{workshop['id']}"
    )
    assert stored is None
    await page.goto(console_url)

    # The rejected token was not kept, so the page shows the link form instead of an error.
    await expect(page.get_by_label("Facilitator link or token")).to_be_visible()
    await page.get_by_label("Facilitator link or token").fill(workshop["facilitator_url"])
    await page.get_by_role("button", name="Open the console").click()
    await expect(page.locator("#connection-status")).to_have_attribute("data-state", "connected")

    await context.close()


async def test_offline_notice_fits_phone(server: ServerProcess, browser: Browser) -> None:
    workshop = await server.create_workshop()
    context = await browser.new_context(viewport=PHONE_VIEWPORT, is_mobile=True, has_touch=True)
    page = await context.new_page()
    await page.goto(workshop["join_url"])
    await page.get_by_role("button", name="Staff").click()
    await expect(page.get_by_text("You are taking part as: Staff")).to_be_visible()

    await context.set_offline(True)
    status = page.locator("#connection-status")
    await expect(status).to_have_attribute("data-state", "offline")
    box = await status.bounding_box()

    assert box is not None
    assert box["x"] >= 0
    assert box["x"] + box["width"] <= PHONE_VIEWPORT["width"]
    await context.set_offline(False)
    await context.close()
