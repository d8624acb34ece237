"""A phone-sized page joins a workshop and votes, driven by a console over the websocket."""

from __future__ import annotations

import re

from conftest import PHONE_VIEWPORT
from playwright.async_api import Browser, expect
from support import Client, ServerProcess


async def test_phone_joins_by_link_and_votes(server: ServerProcess, browser: Browser) -> None:
    workshop = await server.create_workshop(small_group_threshold=1)
    console = await Client.connect(server.ws_url)
    await console.request(
        {"type": "control", "workshop": workshop["id"], "token": workshop["facilitator_token"]}
    )
    context = await browser.new_context(viewport=PHONE_VIEWPORT, is_mobile=True, has_touch=True)
    page = await context.new_page()

    await page.goto(workshop["join_url"])
    await page.get_by_role("button", name="Staff").click()
    await expect(page.get_by_text("You are taking part as: Staff")).to_be_visible()

    reply = await console.request({"type": "open_round", "item": "personalised-support"})
    assert reply["type"] == "ack", reply
    await expect(
        page.get_by_role("heading", name=re.compile("Personalised academic"))
    ).to_be_visible()
    developed = page.get_by_role("button", name=re.compile("Developed"))
    await expect(developed).to_contain_text("All students including PGT and PGR")
    await developed.click()
    await expect(page.locator("#vote-status")).to_contain_text("Vote received")

    counted = await console.view(
        lambda v: v["rounds"] and v["rounds"][-1]["voted"][0] == {"role": "staff", "count": 1}
    )
    assert counted["rounds"][-1]["result"] is None

    await console.request({"type": "reveal", "round": 1})
    await expect(page.get_by_text("1 voted").first).to_be_visible()
    await expect(page.get_by_text("Not sure: 0").first).to_be_visible()
    await expect(page.get_by_role("button", name=re.compile("Developed"))).to_be_disabled()

    await context.close()
    await console.close()


async def test_phone_joins_by_typed_code(server: ServerProcess, browser: Browser) -> None:
    workshop = await server.create_workshop()
    context = await browser.new_context(viewport=PHONE_VIEWPORT, is_mobile=True, has_touch=True)
    page = await context.new_page()

    await page.goto(f"{server.url}/j")
    code = workshop["join_code"]
    await page.get_by_label("Join code shown on the screen").fill(f"{code[:3].lower()} {code[3:]}")
    await page.get_by_role("button", name="Join").click()
    await page.get_by_role("button", name="Student").click()
    await expect(page.get_by_text("You are taking part as: Student")).to_be_visible()

    await context.close()
