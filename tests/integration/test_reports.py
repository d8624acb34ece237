"""Priorities, aspects, custom rubrics, exports and comparisons through the real server."""

from __future__ import annotations

import csv
import io
import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import pytest_asyncio
from redis import asyncio as aioredis
from support import Client, ServerProcess, join_phone

ASPECT_RUBRIC = Path(__file__).resolve().parents[1] / "unit" / "data" / "aspect-rubric.toml"
REDIS_URL = os.environ.get("TEST_REDIS_WORKERS_URL", "redis://127.0.0.1:6379/14")
NOTES = "Agreed 👍\r\nafter a long debate.\n\n=SUM(A1:A9) was suggested"


@pytest_asyncio.fixture(scope="module")
async def upload_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ServerProcess]:
    """A server of its own for uploads, so that other tests see only the shipped rubric."""
    process = ServerProcess(data_dir=tmp_path_factory.mktemp("uploads"))
    await process.start()
    yield process
    await process.stop()


def bearer(*tokens: str) -> dict[str, str]:
    return {"Authorization": "Bearer " + ",".join(tokens)}


async def open_console(server: ServerProcess, workshop: dict[str, Any]) -> Client:
    console = await Client.connect(server.ws_url)
    reply = await console.request(
        {"type": "control", "workshop": workshop["id"], "token": workshop["facilitator_token"]}
    )
    assert reply["type"] == "ack", reply
    return console


async def upload(server: ServerProcess, text: str, password: str | None = None) -> Any:
    headers = {"Content-Type": "application/toml"}
    if password:
        headers["Authorization"] = f"Bearer {password}"
    async with server.http() as http:
        return await http.post("/api/rubrics", content=text.encode(), headers=headers)


def rubric_text(rubric_id: str) -> str:
    text = ASPECT_RUBRIC.read_text(encoding="utf-8")
    return text.replace('id = "aspect-test"', f'id = "{rubric_id}"', 1)


async def vote_and_reveal(
    console: Client, phones: list[Client], item: str, levels: list[int]
) -> int:
    reply = await console.request({"type": "open_round", "item": item})
    assert reply["type"] == "ack", reply
    # A view at least as new as the ack names the round just opened.
    view = await console.view(lambda v: v["seq"] >= reply["seq"])
    number = view["rounds"][-1]["number"]
    for phone, level in zip(phones, levels, strict=True):
        reply = await phone.request({"type": "vote", "round": number, "level": level})
        assert reply["type"] == "ack", reply
    reply = await console.request({"type": "reveal", "round": number})
    assert reply["type"] == "ack", reply
    return number


# Priorities --------------------------------------------------------------------------------


async def test_priority_set_and_cleared(server: ServerProcess) -> None:
    workshop = await server.create_workshop()
    console = await open_console(server, workshop)
    phone = await join_phone(server, workshop["join_code"], "student")

    reply = await console.request(
        {"type": "record", "item": "staff-support", "level": 2, "notes": ""}
    )
    assert reply["type"] == "ack", reply
    priority = {
        "type": "set_priority",
        "item": "staff-support",
        "target_level": 3,
        "actions": "Recognise academic advising in promotion criteria.",
        "staff_owner": "Pro-Vice-Chancellor (Education)",
        "student_owner": "SU President",
    }
    reply = await console.request(priority)
    assert reply["type"] == "ack", reply

    def entry(view: dict[str, Any]) -> dict[str, Any]:
        return next(e for e in view["agenda"] if e["principle_id"] == "staff-support")

    seen = await phone.view(lambda v: entry(v)["priority"] is not None)
    assert entry(seen)["priority"] == {
        "target_level": 3,
        "actions": "Recognise academic advising in promotion criteria.",
        "staff_owner": "Pro-Vice-Chancellor (Education)",
        "student_owner": "SU President",
    }

    reply = await console.request({"type": "clear_priority", "item": "staff-support"})
    assert reply["type"] == "ack", reply
    cleared = await console.view(lambda v: v["seq"] >= reply["seq"])
    assert entry(cleared)["priority"] is None
    assert entry(cleared)["agreed_level"] == 2

    for client in (console, phone):
        await client.close()


async def test_bad_priority_commands_rejected(server: ServerProcess) -> None:
    workshop = await server.create_workshop()
    console = await open_console(server, workshop)
    phone = await join_phone(server, workshop["join_code"], "staff")
    await console.request({"type": "record", "item": "staff-support", "level": 4, "notes": ""})

    base = {"type": "set_priority", "item": "staff-support", "target_level": 5}
    cases: list[tuple[Client, dict[str, Any], str]] = [
        (phone, base, "forbidden"),
        (console, {**base, "target_level": 4}, "invalid_target"),
        (console, {**base, "target_level": 9}, "invalid_level"),
        (console, {**base, "item": "trust-and-respect", "target_level": 1}, "discussion_item"),
        (console, {**base, "item": "nope"}, "unknown_item"),
        (console, {**base, "staff_owner": "x" * 121}, "invalid_message"),
        (console, {**base, "owner": "someone"}, "invalid_message"),
        (console, {"type": "clear_priority", "item": "staff-support"}, "unknown_priority"),
    ]
    for client, message, code in cases:
        reply = await client.request(message)
        assert reply["type"] == "error", (message, reply)
        assert reply["code"] == code, (message, reply)

    headers = bearer(workshop["facilitator_token"])
    async with server.http() as http:
        exported = (
            await http.get(f"/api/workshops/{workshop['id']}/export.json", headers=headers)
        ).json()
    assert all(item["priority"] is None for item in exported["items"])

    for client in (console, phone):
        await client.close()


# Custom rubrics and aspects ----------------------------------------------------------------


async def test_rubric_upload_errors_name_field(upload_server: ServerProcess) -> None:
    server = upload_server
    broken = rubric_text("broken-rubric").replace("number = 1", 'number = "one"')
    repeated = rubric_text("repeated-aspects").replace('id = "usefulness"', 'id = "timeliness"')

    bad_type = await upload(server, broken)
    bad_aspect = await upload(server, repeated)
    not_toml = await upload(server, "id = ")
    empty = await upload(server, "  ")
    shipped = await upload(server, rubric_text("nus-academic-support"))

    assert bad_type.status_code == 400
    assert "`$.principles[0].number`" in bad_type.json()["detail"]
    assert bad_aspect.status_code == 400
    assert "`$.principles[0].aspects[1].id`" in bad_aspect.json()["detail"]
    assert not_toml.status_code == 400
    assert "not valid TOML" in not_toml.json()["detail"]
    assert empty.status_code == 400
    assert shipped.status_code == 409
    assert "already used" in shipped.json()["detail"]
    async with server.http() as http:
        listed = [rubric["id"] for rubric in (await http.get("/api/rubrics")).json()]
    assert "broken-rubric" not in listed
    assert "repeated-aspects" not in listed


async def test_rubric_upload_size_limit(upload_server: ServerProcess) -> None:
    server = upload_server
    padding = "# " + "x" * 300_000 + "\n"

    response = await upload(server, padding + rubric_text("too-large-rubric"))

    assert response.status_code == 413


async def test_aspect_workshop_end_to_end(upload_server: ServerProcess) -> None:
    server = upload_server
    created = await upload(server, rubric_text("aspects-flow"))
    assert created.status_code == 201, created.text
    assert created.json()["principles"][0]["id"] == "feedback"
    again = await upload(server, rubric_text("aspects-flow"))
    assert again.status_code == 409

    workshop = await server.create_workshop(rubric="aspects-flow", small_group_threshold=1)
    console = await open_console(server, workshop)
    phones = [
        await join_phone(server, workshop["join_code"], role) for role in ("staff", "student")
    ]

    await vote_and_reveal(console, phones, "feedback/timeliness", [1, 2])
    await console.request(
        {"type": "record", "item": "feedback/timeliness", "level": 1, "notes": "Late."}
    )
    await vote_and_reveal(console, phones, "feedback/usefulness", [3, 3])
    await console.request(
        {"type": "record", "item": "feedback/usefulness", "level": 3, "notes": NOTES}
    )
    await vote_and_reveal(console, phones, "feedback", [2, 2])
    await console.request({"type": "record", "item": "feedback", "level": 2, "notes": "Overall."})

    view = await phones[0].view(lambda v: v["agenda"][0]["agreed_level"] == 2)
    entry = view["agenda"][0]
    assert entry["aspect_mean"] == 2.0
    assert [(a["item"], a["agreed_level"]) for a in entry["aspects"]] == [
        ("feedback/timeliness", 1),
        ("feedback/usefulness", 3),
    ]
    reply = await console.request({"type": "show_item", "item": "feedback/usefulness"})
    assert reply["type"] == "ack", reply
    shown = await phones[1].view(
        lambda v: v["current"] and v["current"]["item"] == "feedback/usefulness"
    )
    assert shown["current"]["aspect"]["title"] == "Usefulness"
    assert [r["item"] for r in shown["rounds"]] == ["feedback/usefulness"]

    headers = bearer(workshop["facilitator_token"])
    async with server.http() as http:
        exported = (
            await http.get(f"/api/workshops/{workshop['id']}/export.json", headers=headers)
        ).json()
    item = exported["items"][0]
    assert item["aspect_mean"] == 2.0
    assert item["aspects"][1]["notes"] == NOTES
    assert item["aspects"][1]["rounds"][0]["roles"]["staff"]["counts"] == [0, 0, 1]
    assert exported["rubric_id"] == "aspects-flow"

    for client in (console, *phones):
        await client.close()


async def test_uploaded_rubric_survives_restart(tmp_path: Path) -> None:
    server = ServerProcess(data_dir=tmp_path, environment={"ORGANISER_PASSWORD": "organiser pw"})
    await server.start()
    try:
        refused = await upload(server, rubric_text("kept-rubric"))
        wrong = await upload(server, rubric_text("kept-rubric"), password="wrong")
        accepted = await upload(server, rubric_text("kept-rubric"), password="organiser pw")
    finally:
        await server.stop()
    assert refused.status_code == 401
    assert "organiser password to upload rubrics" in refused.json()["detail"]
    assert wrong.status_code == 401
    assert accepted.status_code == 201, accepted.text

    restarted = ServerProcess(data_dir=tmp_path, port=server.port)
    await restarted.start()
    try:
        async with restarted.http() as http:
            listed = (await http.get("/api/rubrics")).json()
            full = (await http.get("/api/rubrics/kept-rubric")).json()
        workshop = await restarted.create_workshop(rubric="kept-rubric")
    finally:
        await restarted.stop()
    assert [rubric["id"] for rubric in listed] == ["nus-academic-support", "kept-rubric"]
    assert [aspect["id"] for aspect in full["principles"][0]["aspects"]] == [
        "timeliness",
        "usefulness",
    ]
    assert workshop["id"]


async def test_uploaded_rubric_reaches_other_workers(tmp_path: Path) -> None:
    # A fresh id, because rubrics in Redis never expire and other runs share the database.
    rubric_id = f"shared-{secrets.token_hex(6)}"
    workers = [
        ServerProcess(data_dir=tmp_path / f"unused-{n}", environment={"REDIS_URL": REDIS_URL})
        for n in range(2)
    ]
    for worker in workers:
        await worker.start()
    try:
        accepted = await upload(workers[0], rubric_text(rubric_id))
        async with workers[1].http() as http:
            listed = [rubric["id"] for rubric in (await http.get("/api/rubrics")).json()]
        workshop = await workers[1].create_workshop(rubric=rubric_id)
        duplicate = await upload(workers[1], rubric_text(rubric_id))
    finally:
        for worker in workers:
            await worker.stop()
        client = aioredis.Redis.from_url(REDIS_URL)
        await client.hdel("cg:rubrics", rubric_id)
        await client.aclose()
    assert accepted.status_code == 201, accepted.text
    assert rubric_id in listed
    assert workshop["id"]
    assert duplicate.status_code == 409


# Exports -----------------------------------------------------------------------------------


async def test_exports_over_http(server: ServerProcess) -> None:
    workshop = await server.create_workshop(small_group_threshold=1, title="HTTP exports")
    console = await open_console(server, workshop)
    phones = [
        await join_phone(server, workshop["join_code"], role) for role in ("staff", "student")
    ]
    await vote_and_reveal(console, phones, "personalised-support", [2, 4])
    await vote_and_reveal(console, phones, "personalised-support", [3, 3])
    await console.request(
        {"type": "record", "item": "personalised-support", "level": 3, "notes": NOTES}
    )
    await console.request(
        {
            "type": "set_priority",
            "item": "personalised-support",
            "target_level": 4,
            "actions": "@all: name a contact",
            "staff_owner": "Head of School",
            "student_owner": "Course rep",
        }
    )

    headers = bearer(workshop["facilitator_token"])
    base = f"/api/workshops/{workshop['id']}"
    async with server.http() as http:
        xlsx = await http.get(f"{base}/export.xlsx", headers=headers)
        markdown = await http.get(f"{base}/export.md", headers=headers)
        table = await http.get(f"{base}/export.csv", headers=headers)
        schema = await http.get("/api/schema/export.json")
        denied = [await http.get(f"{base}/export.{kind}") for kind in ("xlsx", "md")]

    assert xlsx.status_code == 200
    assert xlsx.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert f'filename="workshop-{workshop["id"]}.xlsx"' in xlsx.headers["content-disposition"]
    workbook = openpyxl.load_workbook(io.BytesIO(xlsx.content))
    positions = list(workbook["Agreed positions"].iter_rows(values_only=True))
    header = positions[0]
    first = dict(zip(header, positions[1], strict=True))
    assert first["Agreed level"] == 3
    assert first["Notes"] == NOTES.replace("\r\n", "\n")
    assert first["Priority actions"] == "@all: name a contact"
    assert first["Rounds"] == 2
    rounds = list(workbook["Round distributions"].iter_rows(values_only=True))
    assert len([row for row in rounds[1:] if row[8] == "room"]) == 2

    assert markdown.status_code == 200
    assert markdown.headers["content-type"] == "text/markdown; charset=utf-8"
    assert table.headers["content-type"] == "text/csv; charset=utf-8"
    assert "# HTTP exports" in markdown.text
    assert "- Student owner: Course rep" in markdown.text

    rows = list(csv.DictReader(io.StringIO(table.content.decode("utf-8-sig"), newline="")))
    item = next(row for row in rows if row["record"] == "item")
    assert item["notes"] == NOTES
    assert item["priority_actions"] == "'@all: name a contact"
    assert item["priority_target_level_name"] == "Refining"

    assert schema.status_code == 200
    assert "WorkshopExport" in schema.json()["$defs"]
    assert [response.status_code for response in denied] == [401, 401]

    for client in (console, *phones):
        await client.close()


# Comparison --------------------------------------------------------------------------------


async def recorded_workshop(
    server: ServerProcess, title: str, unit: str, level: int
) -> dict[str, Any]:
    workshop = await server.create_workshop(title=title, unit=unit)
    console = await open_console(server, workshop)
    reply = await console.request(
        {"type": "record", "item": "personalised-support", "level": level, "notes": ""}
    )
    assert reply["type"] == "ack", reply
    await console.close()
    return workshop


async def test_compare_needs_every_token(server: ServerProcess) -> None:
    earlier = await recorded_workshop(server, "Physics 2025", "Physics", 2)
    later = await recorded_workshop(server, "Physics 2026", "Physics", 4)
    other = await server.create_workshop(title="Unrelated")
    ids = f"{earlier['id']},{later['id']}"
    tokens = (earlier["facilitator_token"], later["facilitator_token"])

    async with server.http() as http:
        allowed = await http.get("/api/compare", params={"workshops": ids}, headers=bearer(*tokens))
        table = await http.get(
            "/api/compare.csv", params={"workshops": ids}, headers=bearer(*tokens)
        )
        swapped = await http.get(
            "/api/compare", params={"workshops": ids}, headers=bearer(*reversed(tokens))
        )
        one_token = await http.get(
            "/api/compare", params={"workshops": ids}, headers=bearer(tokens[0])
        )
        foreign = await http.get(
            "/api/compare",
            params={"workshops": ids},
            headers=bearer(tokens[0], other["facilitator_token"]),
        )
        missing = await http.get("/api/compare", params={"workshops": ids})
        alone = await http.get(
            "/api/compare", params={"workshops": earlier["id"]}, headers=bearer(tokens[0])
        )
        unknown = await http.get(
            "/api/compare", params={"workshops": f"{earlier['id']},nope"}, headers=bearer(*tokens)
        )

    assert allowed.status_code == 200, allowed.text
    comparison = allowed.json()
    cells = comparison["principles"][0]["cells"]
    assert [cell["agreed_level"] for cell in cells] == [2, 4]
    assert cells[1]["movement"] == 2
    assert comparison["workshops"][1]["previous"] == earlier["id"]
    assert table.status_code == 200
    assert table.content.startswith(b"\xef\xbb\xbf")
    assert "Physics 2026" in table.content.decode("utf-8-sig")
    for denied in (swapped, one_token, foreign, missing):
        assert denied.status_code == 401, denied.text
    assert "Token 1 does not match" in swapped.json()["detail"]
    assert alone.status_code == 400
    assert unknown.status_code == 404


async def test_compare_with_organiser_password(tmp_path: Path) -> None:
    password = "organiser secret"
    server = ServerProcess(data_dir=tmp_path, environment={"ORGANISER_PASSWORD": password})
    await server.start()
    try:
        workshops = []
        for title in ("Chemistry", "Biology"):
            async with server.http() as http:
                response = await http.post(
                    "/api/workshops",
                    json={"title": title, "scope": "department", "unit": title},
                    headers=bearer(password),
                )
            workshops.append(response.json())
        ids = ",".join(workshop["id"] for workshop in workshops)
        async with server.http() as http:
            allowed = await http.get(
                "/api/compare", params={"workshops": ids}, headers=bearer(password)
            )
            wrong = await http.get(
                "/api/compare", params={"workshops": ids}, headers=bearer("guess")
            )
    finally:
        await server.stop()
    assert allowed.status_code == 200, allowed.text
    assert [workshop["title"] for workshop in allowed.json()["workshops"]] == [
        "Chemistry",
        "Biology",
    ]
    assert wrong.status_code == 401


@pytest.mark.parametrize("path", ["/report/abc", "/compare"])
async def test_report_pages_served(server: ServerProcess, path: str) -> None:
    async with server.http() as http:
        response = await http.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in response.headers["content-security-policy"]
