"""A whole workshop driven through the real server by a console, a projector and phones."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from typing import Any

from support import Client, ServerProcess, join_phone


def last_round(view: dict[str, Any]) -> dict[str, Any] | None:
    return view["rounds"][-1] if view["rounds"] else None


def status(view: dict[str, Any]) -> str | None:
    round_ = last_round(view)
    return round_["status"] if round_ else None


def voted(view: dict[str, Any]) -> dict[str, int]:
    round_ = last_round(view)
    return {entry["role"]: entry["count"] for entry in round_["voted"]} if round_ else {}


async def open_console(server: ServerProcess, workshop: dict[str, Any]) -> Client:
    console = await Client.connect(server.ws_url)
    reply = await console.request(
        {"type": "control", "workshop": workshop["id"], "token": workshop["facilitator_token"]}
    )
    assert reply["type"] == "ack", reply
    return console


async def open_projector(server: ServerProcess, workshop: dict[str, Any]) -> Client:
    projector = await Client.connect(server.ws_url)
    reply = await projector.request({"type": "watch", "workshop": workshop["id"]})
    assert reply["type"] == "ack", reply
    return projector


async def test_whole_workshop_end_to_end(server: ServerProcess) -> None:
    workshop = await server.create_workshop()
    console = await open_console(server, workshop)
    projector = await open_projector(server, workshop)
    staff = [await join_phone(server, workshop["join_code"], "staff") for _ in range(3)]
    students = [
        await join_phone(server, workshop["join_code"].lower(), "student") for _ in range(4)
    ]
    phones = staff + students

    reply = await console.request({"type": "open_round", "item": "personalised-support"})
    assert reply["type"] == "ack", reply
    for phone in phones:
        view = await phone.view(lambda v: status(v) == "voting")
        assert view["current"]["title"].startswith("Personalised academic")
        assert len(view["current"]["descriptors"]) == 5

    staff_levels = [3, 3, 4]
    student_levels = [2, 2, 3, None]
    for phone, level in zip(phones, staff_levels + student_levels, strict=True):
        reply = await phone.request({"type": "vote", "round": 1, "level": level})
        assert reply["type"] == "ack", reply

    # A phone changes its mind before the reveal; it still counts once.
    reply = await students[0].request({"type": "vote", "round": 1, "level": 1})
    assert reply["type"] == "ack", reply

    counted = await projector.view(lambda v: voted(v) == {"staff": 3, "student": 4})
    assert last_round(counted)["result"] is None

    reply = await console.request({"type": "reveal", "round": 1})
    assert reply["type"] == "ack", reply
    for client in [projector, console, *phones]:
        view = await client.view(lambda v: status(v) == "revealed")
        result = last_round(view)["result"]
        assert result["roles"]["staff"]["counts"] == [0, 0, 2, 1, 0]
        assert result["roles"]["student"]["counts"] == [1, 1, 1, 0, 0]
        assert result["roles"]["student"]["not_sure"] == 1
        assert result["roles"]["staff"]["median"] == 3
        assert result["roles"]["student"]["median"] == 2
        assert result["gap"] == 1
        assert 0 < result["consensus"] < 1

    late = await staff[0].request({"type": "vote", "round": 1, "level": 5})
    assert late["type"] == "error"
    assert late["code"] == "round_revealed"

    reply = await console.request({"type": "open_round", "item": "personalised-support"})
    assert reply["type"] == "ack", reply
    revote = await projector.view(lambda v: len(v["rounds"]) == 2)
    assert revote["rounds"][0]["result"]["roles"]["staff"]["counts"] == [0, 0, 2, 1, 0]
    assert revote["rounds"][1]["status"] == "voting"
    for phone in phones:
        reply = await phone.request({"type": "vote", "round": 2, "level": 3})
        assert reply["type"] == "ack", reply
    reply = await console.request({"type": "reveal", "round": 2})
    assert reply["type"] == "ack", reply

    notes = "Agreed after a long debate.\n\nPlacements still lack a named contact 👩‍🎓 — ✔"
    reply = await console.request(
        {"type": "record", "item": "personalised-support", "level": 3, "notes": notes}
    )
    assert reply["type"] == "ack", reply

    reply = await console.request({"type": "open_round", "item": "trust-and-respect"})
    assert reply["code"] == "discussion_item"
    reply = await console.request({"type": "show_item", "item": "trust-and-respect"})
    assert reply["type"] == "ack", reply
    discussion = await projector.view(
        lambda v: v["current"] and v["current"]["id"] == "trust-and-respect"
    )
    assert discussion["current"]["has_levels"] is False
    assert "relies heavily" in discussion["current"]["description"]
    reply = await console.request(
        {"type": "record", "item": "trust-and-respect", "level": None, "notes": "Trust is good."}
    )
    assert reply["type"] == "ack", reply

    recorded = await projector.view(lambda v: v["agenda"][9]["recorded"])
    assert recorded["agenda"][0]["agreed_level"] == 3
    assert recorded["agenda"][0]["notes"] == notes
    assert recorded["agenda"][9]["notes"] == "Trust is good."

    headers = {"Authorization": f"Bearer {workshop['facilitator_token']}"}
    async with server.http() as http:
        exported = await http.get(f"/api/workshops/{workshop['id']}/export.json", headers=headers)
        table = await http.get(f"/api/workshops/{workshop['id']}/export.csv", headers=headers)
    assert exported.status_code == 200
    items = exported.json()["items"]
    assert [item["principle_id"] for item in items][:2] == [
        "personalised-support",
        "joined-up-approach",
    ]
    assert items[0]["agreed_level"] == 3
    assert items[0]["notes"] == notes
    assert [r["roles"]["staff"]["counts"] for r in items[0]["rounds"]] == [
        [0, 0, 2, 1, 0],
        [0, 0, 3, 0, 0],
    ]

    assert table.status_code == 200
    assert table.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(table.content.decode("utf-8-sig")), dialect="excel"))
    item_rows = [row for row in rows if row["record"] == "item"]
    assert len(item_rows) == 10
    assert item_rows[0]["notes"] == notes
    assert item_rows[0]["agreed_level_name"] == "Developed"
    round_rows = [row for row in rows if row["record"] == "round" and row["round"] == "1"]
    staff_row = next(row for row in round_rows if row["group"] == "staff")
    assert staff_row["3: Developed"] == "2"

    for client in [console, projector, *phones]:
        await client.close()


async def test_votes_stay_secret_in_every_frame(server: ServerProcess) -> None:
    workshop = await server.create_workshop(small_group_threshold=1)
    console = await open_console(server, workshop)
    projector = await open_projector(server, workshop)
    voter = await join_phone(server, workshop["join_code"], "staff")
    watcher = await join_phone(server, workshop["join_code"], "student")

    await console.request({"type": "open_round", "item": "coherent-policies"})
    await voter.request({"type": "vote", "round": 1, "level": 4})
    await projector.view(lambda v: voted(v) == {"staff": 1, "student": 0})
    await console.view(lambda v: voted(v) == {"staff": 1, "student": 0})
    # Phones see the round but no live counts, so a vote sends nothing to every phone.
    phone_view = await watcher.view(lambda v: status(v) == "voting")
    assert phone_view["rounds"][-1]["voted"] == []

    # Before the reveal no frame to anyone but the voter mentions a level distribution.
    for client in (console, projector, watcher):
        for frame in client.frames:
            message = json.loads(frame)
            assert message["type"] != "your_vote" or message["level"] is None
            assert '"counts"' not in frame, frame
            assert '"result":{' not in frame, frame
    for frame in voter.frames:
        assert '"participant"' not in frame or '"client":"participant"' in frame

    await console.request({"type": "reveal", "round": 1})
    await projector.view(lambda v: status(v) == "revealed")
    for client in (console, projector, voter, watcher):
        for frame in client.frames:
            assert '"p1"' not in frame, frame
            assert '"votes"' not in frame, frame

    for client in (console, projector, voter, watcher):
        await client.close()


async def test_invalid_commands_get_errors_and_keep_socket(server: ServerProcess) -> None:
    workshop = await server.create_workshop()
    console = await open_console(server, workshop)
    phone = await join_phone(server, workshop["join_code"], "student")

    cases: list[tuple[Client, dict[str, Any], str]] = [
        (phone, {"type": "open_round", "item": "staff-support"}, "forbidden"),
        (phone, {"type": "reveal", "round": 1}, "forbidden"),
        (console, {"type": "open_round", "item": "no-such-principle"}, "unknown_item"),
        (phone, {"type": "vote", "round": 1, "level": 3}, "unknown_round"),
        (console, {"type": "reveal", "round": 7}, "unknown_round"),
        (console, {"type": "vote", "round": 1, "level": 3}, "forbidden"),
        (console, {"type": "record", "item": "trust-and-respect", "level": 2}, "discussion_item"),
        (phone, {"type": "join", "code": workshop["join_code"], "role": "staff"}, "already_joined"),
    ]
    for client, message, code in cases:
        reply = await client.request(message)
        assert reply["type"] == "error", (message, reply)
        assert reply["code"] == code, (message, reply)
        assert reply["message"], (message, reply)

    await console.request({"type": "open_round", "item": "staff-support"})
    reply = await phone.request({"type": "vote", "round": 1, "level": 9})
    assert reply["type"] == "error"
    assert reply["code"] == "invalid_level"

    await phone.send_raw("{not json")
    malformed = await phone.expect("error")
    assert malformed["code"] == "invalid_message"
    await phone.send_raw(json.dumps({"type": "launch_rockets"}))
    unknown = await phone.expect("error")
    assert "type" in unknown["message"]
    await phone.send_raw(json.dumps({"type": "vote", "round": 1, "level": 2, "extra": 1}))
    extra = await phone.expect("error")
    assert "extra" in extra["message"]
    await phone.send_raw(json.dumps({"type": "record", "item": "x", "notes": "n" * 70_000}))
    oversized = await phone.expect("error")
    assert oversized["code"] == "too_large"

    # The same socket still works, and nothing above changed the round.
    reply = await phone.request({"type": "vote", "round": 1, "level": 2})
    assert reply["type"] == "ack", reply
    view = await console.view(lambda v: voted(v) == {"staff": 0, "student": 1})
    assert len(view["rounds"]) == 1

    await console.close()
    await phone.close()


async def test_wrong_tokens_are_rejected(server: ServerProcess) -> None:
    workshop = await server.create_workshop()
    other = await server.create_workshop()
    intruder = await Client.connect(server.ws_url)
    reply = await intruder.request(
        {"type": "control", "workshop": workshop["id"], "token": other["facilitator_token"]}
    )
    assert reply["code"] == "forbidden"
    reply = await intruder.request({"type": "open_round", "item": "staff-support"})
    assert reply["code"] == "not_joined"
    await intruder.close()

    async with server.http() as http:
        url = f"/api/workshops/{workshop['id']}/export.json"
        missing = await http.get(url)
        wrong = await http.get(
            url, headers={"Authorization": f"Bearer {other['facilitator_token']}"}
        )
    assert missing.status_code == 401
    assert wrong.status_code == 401
    assert "Bearer" in missing.json()["detail"]


async def test_rejoin_with_token_resumes_vote(server: ServerProcess) -> None:
    workshop = await server.create_workshop()
    console = await open_console(server, workshop)
    phone = await Client.connect(server.ws_url)
    token = "reload-safe-token-0123456789abcdef"
    await phone.request(
        {"type": "join", "code": workshop["join_code"], "role": "staff", "token": token}
    )
    await console.request({"type": "open_round", "item": "learning-to-learn"})
    await phone.request({"type": "vote", "round": 1, "level": 4})
    await phone.close()

    again = await Client.connect(server.ws_url)
    reply = await again.request({"type": "join", "code": workshop["join_code"], "token": token})
    assert reply["type"] == "ack", reply
    welcome = again.messages[0]
    assert welcome["type"] == "welcome"
    assert welcome["role"] == "staff"
    assert welcome["join_url"] == f"{server.url}/j/{workshop['join_code']}"
    mine = await again.expect("your_vote")
    assert mine == {"type": "your_vote", "round": 1, "voted": True, "level": 4}
    # A change after the rejoin yields a console view that includes the rejoin.
    await console.request({"type": "show_item", "item": "learning-to-learn"})
    await console.request({"type": "reveal", "round": 1})
    console_view = await console.expect(
        "console", lambda m: status(m["view"]["room"]) == "revealed"
    )
    joined = {entry["role"]: entry["count"] for entry in console_view["view"]["joined"]}
    assert joined == {"staff": 1, "student": 0}
    await again.close()
    await console.close()


async def test_join_codes_differ_between_workshops(server: ServerProcess) -> None:
    created = [await server.create_workshop(title=f"Workshop {n}") for n in range(12)]
    codes = [workshop["join_code"] for workshop in created]
    assert len(set(codes)) == len(codes)
    async with server.http() as http:
        for workshop in created:
            info = await http.get(f"/api/join/{workshop['join_code']}")
            assert info.json()["workshop"] == workshop["id"]
        unknown = await http.get("/api/join/ZZZZZZ")
    assert unknown.status_code == 404


async def test_votes_send_nothing_to_other_phones(server: ServerProcess) -> None:
    workshop = await server.create_workshop()
    console = await open_console(server, workshop)
    projector = await open_projector(server, workshop)
    bystander = await join_phone(server, workshop["join_code"], "student")
    voters = [await join_phone(server, workshop["join_code"], "staff") for _ in range(4)]

    await console.request({"type": "open_round", "item": "staff-support"})
    await bystander.view(lambda v: status(v) == "voting")
    rooms_before = sum(message["type"] == "room" for message in bystander.messages)
    for voter in voters:
        await voter.request({"type": "vote", "round": 1, "level": 3})
    await projector.view(lambda v: voted(v) == {"staff": 4, "student": 0})
    await console.request({"type": "reveal", "round": 1})
    await bystander.view(lambda v: status(v) == "revealed")

    # Messages on one socket arrive in order, so any view sent for a vote came before this.
    rooms_after = sum(message["type"] == "room" for message in bystander.messages)
    assert rooms_after == rooms_before + 1
    for client in [console, projector, bystander, *voters]:
        await client.close()


async def test_chunked_fan_out_ends_on_latest_view(server: ServerProcess) -> None:
    # More phones than one fan-out chunk (500), so views reach them over several steps.
    workshop = await server.create_workshop()
    console = await open_console(server, workshop)
    phones = await asyncio.gather(
        *(join_phone(server, workshop["join_code"], "student") for _ in range(700))
    )

    # Open and reveal back to back: the second fan-out starts while the first runs.
    await console.request({"type": "open_round", "item": "staff-support"})
    await console.request({"type": "reveal", "round": 1})
    views = await asyncio.gather(
        *(phone.view(lambda v: status(v) == "revealed") for phone in phones)
    )
    assert all(view["rounds"][-1]["number"] == 1 for view in views)

    # Nothing older arrives after the revealed view: the next view each phone gets
    # is the one for the following change.
    await console.request({"type": "show_item", "item": "trust-and-respect"})
    for phone in phones:
        following = await phone.expect("room")
        assert following["view"]["current"]["id"] == "trust-and-respect"
    await asyncio.gather(*(phone.close() for phone in phones))
    await console.close()
