"""Random and malformed messages at a live server: each gets an answer, none corrupts state.

Hypothesis draws a sequence of frames: well-formed commands that may be out of phase
or out of range, sent by the console or by phones, mixed with garbage (random bytes,
invalid UTF-8, unknown tags, wrong types, huge numbers). Each frame must get exactly
one ``ack`` or ``error``. Alongside, the test replays every acknowledged command on
its own copy of the workshop with the domain's rules; at the end the server's export
must equal what that copy says, so rejected frames changed nothing.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import msgspec
import websockets
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import PROJECT_ROOT, ServerProcess

from server import domain
from server.domain import WorkshopCreated
from server.export import build_export
from server.rubric import load_rubric_folder

RUBRIC = load_rubric_folder(PROJECT_ROOT / "rubric")["nus-academic-support"]
ITEMS = ["personalised-support", "staff-support", "trust-and-respect", "no-such-item"]
PHONE_TOKENS = [f"fuzz-phone-{n}-0123456789abcdefghijkl" for n in range(3)]
PHONE_ROLES = ["staff", "student", "student"]

levels = st.one_of(st.none(), st.integers(min_value=-2, max_value=7))
rounds = st.integers(min_value=0, max_value=6)
senders = st.sampled_from(["console", "phone0", "phone1", "phone2"])

commands = st.one_of(
    st.builds(lambda item: {"type": "open_round", "item": item}, st.sampled_from(ITEMS)),
    st.builds(lambda number: {"type": "reveal", "round": number}, rounds),
    st.builds(lambda item: {"type": "show_item", "item": item}, st.sampled_from(ITEMS)),
    st.builds(
        lambda item, level, notes: {"type": "record", "item": item, "level": level, "notes": notes},
        st.sampled_from(ITEMS),
        levels,
        st.text(max_size=40),
    ),
    st.builds(
        lambda number, level: {"type": "vote", "round": number, "level": level}, rounds, levels
    ),
)

garbage = st.one_of(
    st.binary(max_size=48),
    st.sampled_from([b"\xff\xfe\xfd", b'{"type": "vote", "round": 1, "level": \xc3\x28}']),
    st.text(max_size=48),
    st.builds(lambda tag: json.dumps({"type": tag}), st.text(max_size=12)),
    st.just(json.dumps({"type": "vote", "round": 2**70, "level": 1})),
    st.just(json.dumps({"type": "vote", "round": "1", "level": 1})),
    st.just(json.dumps({"type": "record", "item": ["x"], "level": 1})),
    st.just("[" * 5000 + "]" * 5000),
)

frames = st.lists(
    st.one_of(
        st.tuples(senders, commands.map(lambda command: ("command", command))),
        st.tuples(senders, garbage.map(lambda junk: ("garbage", junk))),
    ),
    min_size=1,
    max_size=25,
)


class Replica:
    """The test's own copy of the workshop, advanced only by acknowledged commands."""

    def __init__(self, created: WorkshopCreated) -> None:
        self.state = domain.fold([created])

    def run(self, events: list[domain.Event]) -> None:
        for event in events:
            domain.apply(self.state, event)

    def replay(self, sender: str, command: dict[str, Any], participants: dict[str, str]) -> None:
        state = self.state
        match command["type"]:
            case "open_round":
                self.run(domain.decide_open_round(state, item=command["item"], now=0.0))
            case "reveal":
                self.run(domain.decide_reveal(state, round_number=command["round"], now=0.0))
            case "show_item":
                self.run(domain.decide_show_item(state, item=command["item"]))
            case "record":
                self.run(
                    domain.decide_record(
                        state,
                        item=command["item"],
                        level=command["level"],
                        notes=command["notes"],
                        now=0.0,
                    )
                )
            case "vote":
                self.run(
                    domain.decide_vote(
                        state,
                        participant=participants[sender],
                        round_number=command["round"],
                        level=command["level"],
                    )
                )


def _comparable(export: dict[str, Any]) -> list[dict[str, Any]]:
    """Drop the clock readings, which differ between the server and the replica."""
    items = []
    for item in export["items"]:
        item = {key: value for key, value in item.items() if key != "recorded_at"}
        item["rounds"] = [
            {k: v for k, v in round_.items() if k not in ("opened_at", "revealed_at")}
            for round_ in item["rounds"]
        ]
        items.append(item)
    return items


async def _send_and_answer(
    connection: websockets.ClientConnection, frame: str | bytes
) -> dict[str, Any]:
    await connection.send(frame)
    while True:
        message = json.loads(await asyncio.wait_for(connection.recv(), 5))
        if message["type"] in ("ack", "error"):
            return message


async def _run_scenario(server: ServerProcess, scenario: list[tuple[str, tuple[str, Any]]]) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        body = {"title": "Fuzz", "scope": "course", "unit": "Fuzz", "small_group_threshold": 1}
        workshop = (await http.post("/api/workshops", json=body)).json()

    clients: dict[str, websockets.ClientConnection] = {}
    participants: dict[str, str] = {}
    clients["console"] = await websockets.connect(server.ws_url, max_size=None)
    control = {
        "type": "control",
        "workshop": workshop["id"],
        "token": workshop["facilitator_token"],
    }
    assert (await _send_and_answer(clients["console"], json.dumps({**control, "ref": 0})))[
        "type"
    ] == "ack"
    for index, (token, role) in enumerate(zip(PHONE_TOKENS, PHONE_ROLES, strict=True)):
        phone = await websockets.connect(server.ws_url, max_size=None)
        join = {
            "type": "join",
            "code": workshop["join_code"],
            "role": role,
            "token": token,
            "ref": 0,
        }
        assert (await _send_and_answer(phone, json.dumps(join)))["type"] == "ack"
        clients[f"phone{index}"] = phone
        participants[f"phone{index}"] = domain.token_digest(token)[:16]

    created = WorkshopCreated(
        workshop_id=workshop["id"],
        title="Fuzz",
        scope="course",
        unit="Fuzz",
        rubric=RUBRIC,
        agenda=[principle.id for principle in RUBRIC.principles],
        join_code=workshop["join_code"],
        facilitator_digest="",
        small_group_threshold=1,
        created_at=0.0,
    )
    replica = Replica(created)
    for role, token in zip(PHONE_ROLES, PHONE_TOKENS, strict=True):
        replica.run(domain.decide_join(replica.state, role=role, token=token)[1])

    for ref, (sender, (kind, payload)) in enumerate(scenario, start=1):
        connection = clients[sender]
        if kind == "garbage":
            answer = await _send_and_answer(connection, payload)
            assert answer["type"] == "error", (payload, answer)
            continue
        answer = await _send_and_answer(connection, json.dumps({**payload, "ref": ref}))
        assert answer["ref"] == ref
        if answer["type"] == "ack":
            replica.replay(sender, payload, participants)

    headers = {"Authorization": f"Bearer {workshop['facilitator_token']}"}
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        stored = (
            await http.get(f"/api/workshops/{workshop['id']}/export.json", headers=headers)
        ).json()
        assert (await http.get("/healthz")).status_code == 200
    expected = msgspec.to_builtins(build_export(replica.state, now=0.0))
    assert _comparable(stored) == _comparable(expected)

    # The log on disk, folded afresh, gives the same export as the live server.
    database = sqlite3.connect(f"file:{server.data_dir / 'workshops.sqlite3'}?mode=ro", uri=True)
    rows = database.execute(
        "SELECT payload FROM events WHERE workshop_id = ? ORDER BY seq", (workshop["id"],)
    ).fetchall()
    database.close()
    decoder = msgspec.json.Decoder(domain.Event)
    on_disk = domain.fold([decoder.decode(payload) for (payload,) in rows])
    assert _comparable(msgspec.to_builtins(build_export(on_disk, now=0.0))) == _comparable(expected)

    for connection in clients.values():
        await connection.close()


def test_random_frames_never_corrupt_workshop(server: ServerProcess, tmp_path: Path) -> None:
    @settings(
        max_examples=60,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(scenario=frames)
    def check(scenario: list[tuple[str, tuple[str, Any]]]) -> None:
        asyncio.run(_run_scenario(server, scenario))

    check()
