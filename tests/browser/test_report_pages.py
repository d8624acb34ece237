"""The printable report rendered in headless Chromium and printed to PDF, the comparison
page, and the console's priority form."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, expect
from pypdf import PdfReader
from support import Client, ServerProcess, join_phone

NOTES = (
    "Placements lack a named contact 👩‍🎓\nSecond line of the notes\n\n"
    "A paragraph after a blank line"
)
ACTIONS = "=Name a contact for every placement"


async def recorded_workshop(server: ServerProcess, **fields: Any) -> dict[str, Any]:
    """Create a workshop whose first principle was voted, recorded and made a priority."""
    workshop = await server.create_workshop(small_group_threshold=1, **fields)
    console = await Client.connect(server.ws_url)
    await console.request(
        {"type": "control", "workshop": workshop["id"], "token": workshop["facilitator_token"]}
    )
    phones = [
        await join_phone(server, workshop["join_code"], role) for role in ("staff", "student")
    ]
    await console.request({"type": "open_round", "item": "personalised-support"})
    for phone, level in zip(phones, [4, 2], strict=True):
        await phone.request({"type": "vote", "round": 1, "level": level})
    await console.request({"type": "reveal", "round": 1})
    for message in (
        {"type": "record", "item": "personalised-support", "level": 3, "notes": NOTES},
        {"type": "record", "item": "trust-and-respect", "level": None, "notes": "Trust is high."},
        {
            "type": "set_priority",
            "item": "personalised-support",
            "target_level": 4,
            "actions": ACTIONS,
            "staff_owner": "Head of School",
            "student_owner": "Course rep",
        },
    ):
        reply = await console.request(message)
        assert reply["type"] == "ack", reply
    for client in (console, *phones):
        await client.close()
    return workshop


async def test_report_prints_grid_and_notes(server: ServerProcess, browser: Browser) -> None:
    workshop = await recorded_workshop(server, title="Report workshop")
    context = await browser.new_context()
    page = await context.new_page()

    await page.goto(f"{server.url}/report/{workshop['id']}#token={workshop['facilitator_token']}")
    await expect(page.locator("body[data-ready='true']")).to_be_attached()

    assert "#token=" not in page.url
    rows = page.locator(".report-grid tbody tr")
    await expect(rows).to_have_count(10)
    agreed = page.locator("tr[data-principle='personalised-support'] td.is-agreed")
    await expect(agreed).to_have_count(1)
    await expect(agreed).to_have_attribute("data-level", "3")
    await expect(agreed).to_contain_text("✓ Agreed")
    target = page.locator("tr[data-principle='personalised-support'] td.is-target")
    await expect(target).to_have_attribute("data-level", "4")
    notes = page.locator(".report-principle[data-principle='personalised-support'] .report-notes")
    await expect(notes).to_contain_text("👩‍🎓")
    await expect(page.locator(".priority-table")).to_contain_text(ACTIONS)
    await expect(page.locator(".distribution-table").first).to_contain_text("Whole room")
    await expect(page.locator(".report-meta")).to_contain_text("Participants: 1 Staff, 1 Student.")

    pdf = await page.pdf(format="A4", landscape=True, print_background=True)
    assert pdf.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(pdf))
    text = " ".join(page_text.extract_text() for page_text in reader.pages)
    flat = re.sub(r"\s+", " ", text)
    for expected in (
        "Report workshop",
        "Benchmarking grid",
        "First steps",
        "Outstanding",
        "Agreed",
        "Target",
        "Personalised academic and pastoral support",
        "Placements lack a named contact",
        "Second line of the notes",
        "A paragraph after a blank line",
        "Trust is high.",
        "Head of School",
        "Name a contact for every placement",
    ):
        assert expected in flat, expected
    assert "Print or save as PDF" not in flat
    assert workshop["facilitator_token"] not in flat

    await context.close()


async def test_report_asks_for_link_without_token(server: ServerProcess, browser: Browser) -> None:
    workshop = await server.create_workshop()
    context = await browser.new_context()
    page = await context.new_page()

    await page.goto(f"{server.url}/report/{workshop['id']}")
    await expect(page.get_by_label("Facilitator link or token")).to_be_visible()
    await page.get_by_label("Facilitator link or token").fill(workshop["facilitator_url"])
    await page.get_by_role("button", name="Show the report").click()
    await expect(page.locator("body[data-ready='true']")).to_be_attached()
    await expect(page.locator("h1")).to_have_text("Physics benchmarking")

    await context.close()


async def test_compare_page_shows_movement(server: ServerProcess, browser: Browser) -> None:
    earlier = await recorded_workshop(server, title="Physics 2025", unit="Physics")
    later = await server.create_workshop(title="Physics 2026", unit="Physics")
    console = await Client.connect(server.ws_url)
    await console.request(
        {"type": "control", "workshop": later["id"], "token": later["facilitator_token"]}
    )
    reply = await console.request(
        {"type": "record", "item": "personalised-support", "level": 5, "notes": ""}
    )
    assert reply["type"] == "ack", reply
    await console.close()
    context = await browser.new_context()
    page = await context.new_page()

    await page.goto(f"{server.url}/compare")
    links = "\n".join([earlier["facilitator_url"], later["facilitator_url"]])
    await page.get_by_label("Facilitator links, one per line").fill(links)
    await page.get_by_role("button", name="Compare", exact=True).click()

    row = page.locator(".compare-table tr[data-principle='personalised-support']")
    await expect(row.locator(f"td[data-workshop='{earlier['id']}']")).to_contain_text(
        "Developed (3)"
    )
    later_cell = row.locator(f"td[data-workshop='{later['id']}']")
    await expect(later_cell).to_contain_text("Outstanding (5)")
    await expect(later_cell).to_contain_text("▲ up 2 levels since Physics 2025")
    await expect(page.locator(".largest-gaps")).to_contain_text("Personalised academic")
    await expect(page.get_by_role("button", name="Download CSV")).to_be_enabled()

    await context.close()


async def test_console_sets_priority(server: ServerProcess, browser: Browser) -> None:
    workshop = await server.create_workshop()
    watcher = await Client.connect(server.ws_url)
    await watcher.request({"type": "watch", "workshop": workshop["id"]})
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await context.new_page()

    await page.goto(workshop["facilitator_url"])
    await page.get_by_role("button", name=re.compile("Show first item")).click()
    await expect(page.locator("#priority-item")).to_contain_text("is not a priority yet")
    await page.get_by_label("Target level").select_option(label="Refining")
    await page.get_by_label("Actions").fill("Name a contact\nfor every placement")
    await page.get_by_label("Staff owner").fill("Head of School")
    await page.get_by_label("Student owner").fill("Course rep")
    await page.get_by_role("button", name="Mark as priority").click()

    view = await watcher.view(lambda v: v["agenda"][0]["priority"] is not None)
    assert view["agenda"][0]["priority"] == {
        "target_level": 4,
        "actions": "Name a contact\nfor every placement",
        "staff_owner": "Head of School",
        "student_owner": "Course rep",
    }
    await expect(page.locator("#priority-list")).to_contain_text("target Refining")

    await page.get_by_role("button", name="Remove priority").click()
    await watcher.view(lambda v: v["agenda"][0]["priority"] is None)

    await context.close()
    await watcher.close()


async def test_console_runs_aspect_round(tmp_path: Path, browser: Browser) -> None:
    # A server of its own, so that other tests see only the shipped rubric.
    server = ServerProcess(data_dir=tmp_path)
    await server.start()
    try:
        await run_aspect_round(server, browser)
    finally:
        await server.stop()


async def run_aspect_round(server: ServerProcess, browser: Browser) -> None:
    source = (
        Path(__file__).resolve().parents[1] / "unit" / "data" / "aspect-rubric.toml"
    ).read_text()
    async with server.http() as http:
        uploaded = await http.post(
            "/api/rubrics",
            content=source.replace('id = "aspect-test"', 'id = "aspect-console"', 1).encode(),
        )
    assert uploaded.status_code == 201, uploaded.text
    workshop = await server.create_workshop(rubric="aspect-console", small_group_threshold=1)
    phone = await join_phone(server, workshop["join_code"], "student")
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await context.new_page()

    await page.goto(workshop["facilitator_url"])
    await page.get_by_role("button", name=re.compile("Aspect: Timeliness")).click()
    await expect(page.locator("#current-principle .principle-aspect")).to_have_text(
        "Aspect: Timeliness"
    )
    await page.get_by_role("button", name=re.compile("Open round")).click()
    view = await phone.view(lambda v: v["rounds"] and v["rounds"][-1]["status"] == "voting")
    assert view["rounds"][-1]["item"] == "feedback/timeliness"
    await phone.request({"type": "vote", "round": 1, "level": 2})
    await page.get_by_role("button", name=re.compile("Reveal")).click()
    await page.get_by_label("Agreed level").select_option(label="Established")
    await page.get_by_label("Discussion notes").fill("Timely enough.")
    await page.get_by_role("button", name="Save agreement").click()

    recorded = await phone.view(lambda v: v["agenda"][0]["aspects"][0]["recorded"])
    assert recorded["agenda"][0]["aspects"][0]["agreed_level"] == 2
    assert recorded["agenda"][0]["aspect_mean"] == 2
    assert recorded["agenda"][0]["recorded"] is False
    await expect(page.locator(".aspect-mean")).to_have_text("Mean of aspects: 2")

    await context.close()
    await phone.close()


async def test_create_page_uploads_rubric(tmp_path: Path, browser: Browser) -> None:
    # A server of its own, so that other tests see only the shipped rubric.
    server = ServerProcess(data_dir=tmp_path)
    await server.start()
    source = (
        Path(__file__).resolve().parents[1] / "unit" / "data" / "aspect-rubric.toml"
    ).read_bytes()
    context = await browser.new_context()
    page = await context.new_page()
    try:
        await page.goto(f"{server.url}/")
        await page.get_by_text("Upload a custom rubric").click()
        broken = source.replace(b"number = 1", b'number = "one"')
        files = {"name": "broken.toml", "mimeType": "application/toml", "buffer": broken}
        await page.get_by_label("Rubric file (.toml)").set_input_files(files)
        await page.get_by_role("button", name="Upload rubric").click()
        await expect(page.locator("#create-error")).to_contain_text("`$.principles[0].number`")

        files = {"name": "aspects.toml", "mimeType": "application/toml", "buffer": source}
        await page.get_by_label("Rubric file (.toml)").set_input_files(files)
        await page.get_by_role("button", name="Upload rubric").click()
        await expect(page.locator("#rubric-upload-status")).to_contain_text("Aspect test rubric")
        await expect(page.get_by_label("Rubric", exact=True)).to_have_value("aspect-test")
        await expect(page.locator("#agenda")).to_contain_text("Feedback on assessed work")
    finally:
        await context.close()
        await server.stop()
