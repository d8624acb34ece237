"""Several server processes sharing one Redis serve one workshop together."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from redis import asyncio as aioredis
from support import Client, ServerProcess

REDIS_URL = os.environ.get("TEST_REDIS_WORKERS_URL", "redis://127.0.0.1:6379/14")


@pytest_asyncio.fixture
async def workers(tmp_path: Path) -> AsyncIterator[list[ServerProcess]]:
    client = aioredis.Redis.from_url(REDIS_URL)
    await client.flushdb()
    await client.aclose()
    processes = [
        ServerProcess(data_dir=tmp_path / f"unused-{n}", environment={"REDIS_URL": REDIS_URL})
        for n in range(3)
    ]
    for process in processes:
        await process.start()
    yield processes
    for process in processes:
        await process.stop()


def voted(view: dict) -> dict[str, int]:
    if not view["rounds"]:
        return {}
    return {entry["role"]: entry["count"] for entry in view["rounds"][-1]["voted"]}


def status(view: dict) -> str | None:
    return view["rounds"][-1]["status"] if view["rounds"] else None


async def test_workshop_across_three_workers(workers: list[ServerProcess]) -> None:
    first, second, third = workers
    workshop = await first.create_workshop()
    code = workshop["join_code"]

    console = await Client.connect(first.ws_url)
    reply = await console.request(
        {"type": "control", "workshop": workshop["id"], "token": workshop["facilitator_token"]}
    )
    assert reply["type"] == "ack", reply
    projector = await Client.connect(second.ws_url)
    reply = await projector.request({"type": "watch", "workshop": workshop["id"]})
    assert reply["type"] == "ack", reply

    phones = []
    for index, role in enumerate(["staff"] * 3 + ["student"] * 3):
        server = workers[index % 3]
        phone = await Client.connect(server.ws_url)
        reply = await phone.request({"type": "join", "code": code, "role": role})
        assert reply["type"] == "ack", reply
        phones.append(phone)

    reply = await console.request({"type": "open_round", "item": "staff-support"})
    assert reply["type"] == "ack", reply
    for phone, level in zip(phones, [4, 4, 5, 2, 3, 3], strict=True):
        await phone.view(lambda v: status(v) == "voting")
        reply = await phone.request({"type": "vote", "round": 1, "level": level})
        assert reply["type"] == "ack", reply

    await projector.view(lambda v: voted(v) == {"staff": 3, "student": 3})
    await console.view(lambda v: voted(v) == {"staff": 3, "student": 3})

    reply = await console.request({"type": "reveal", "round": 1})
    assert reply["type"] == "ack", reply
    for client in [projector, *phones]:
        view = await client.view(lambda v: status(v) == "revealed")
        result = view["rounds"][-1]["result"]
        assert result["roles"]["staff"]["counts"] == [0, 0, 0, 2, 1]
        assert result["roles"]["student"]["counts"] == [0, 1, 2, 0, 0]

    late = await phones[2].request({"type": "vote", "round": 1, "level": 1})
    assert late["code"] == "round_revealed"

    # A second facilitator on another worker records too; both see one final agreement.
    other_console = await Client.connect(third.ws_url)
    await other_console.request(
        {"type": "control", "workshop": workshop["id"], "token": workshop["facilitator_token"]}
    )
    await console.request({"type": "record", "item": "staff-support", "level": 3, "notes": "A"})
    await other_console.request(
        {"type": "record", "item": "staff-support", "level": 4, "notes": "B"}
    )
    for client in (console, other_console, projector):
        view = await client.view(lambda v: v["agenda"][3]["notes"] == "B")
        assert view["agenda"][3]["agreed_level"] == 4

    for client in [console, other_console, projector, *phones]:
        await client.close()


async def test_killed_worker_loses_no_votes(workers: list[ServerProcess]) -> None:
    first, second, _ = workers
    workshop = await first.create_workshop(small_group_threshold=1)
    console = await Client.connect(second.ws_url)
    await console.request(
        {"type": "control", "workshop": workshop["id"], "token": workshop["facilitator_token"]}
    )
    await console.request({"type": "open_round", "item": "learning-to-learn"})

    tokens = [f"phone-token-{n}-0123456789abcdefghij" for n in range(4)]
    for n, token in enumerate(tokens):
        phone = await Client.connect(first.ws_url)
        join = {"type": "join", "code": workshop["join_code"], "role": "student", "token": token}
        await phone.request(join)
        reply = await phone.request({"type": "vote", "round": 1, "level": n + 1})
        assert reply["type"] == "ack", reply

    await first.stop(signal.SIGKILL)

    for n, token in enumerate(tokens):
        phone = await Client.connect(second.ws_url)
        reply = await phone.request({"type": "join", "code": workshop["join_code"], "token": token})
        assert reply["type"] == "ack", reply
        mine = await phone.expect("your_vote")
        assert mine["level"] == n + 1
        await phone.close()

    await console.view(lambda v: voted(v) == {"staff": 0, "student": 4})
    await console.close()


async def test_workers_option_shares_one_port(tmp_path: Path) -> None:
    client = aioredis.Redis.from_url(REDIS_URL)
    await client.flushdb()
    await client.aclose()
    server = ServerProcess(
        data_dir=tmp_path, environment={"REDIS_URL": REDIS_URL}, arguments=["--workers", "2"]
    )
    await server.start()
    try:
        workshop = await server.create_workshop(small_group_threshold=1)
        console = await Client.connect(server.ws_url)
        await console.request(
            {"type": "control", "workshop": workshop["id"], "token": workshop["facilitator_token"]}
        )
        await console.request({"type": "open_round", "item": "staff-support"})
        phones = []
        for _ in range(6):
            phone = await Client.connect(server.ws_url)
            await phone.request({"type": "join", "code": workshop["join_code"], "role": "staff"})
            reply = await phone.request({"type": "vote", "round": 1, "level": 2})
            assert reply["type"] == "ack", reply
            phones.append(phone)
        await console.view(lambda v: voted(v) == {"staff": 6, "student": 0})
        for client in [console, *phones]:
            await client.close()
    finally:
        await server.stop()


async def test_two_workers_need_redis(tmp_path: Path) -> None:
    server = ServerProcess(data_dir=tmp_path, arguments=["--workers", "2"])
    with pytest.raises(RuntimeError, match="set REDIS_URL"):
        await server.start()


async def test_votes_racing_a_reveal_across_workers(workers: list[ServerProcess]) -> None:
    workshop = await workers[0].create_workshop(small_group_threshold=1)
    consoles = []
    for server in workers[:2]:
        console = await Client.connect(server.ws_url)
        await console.request(
            {"type": "control", "workshop": workshop["id"], "token": workshop["facilitator_token"]}
        )
        consoles.append(console)
    phones = []
    for index in range(12):
        phone = await Client.connect(workers[index % 3].ws_url)
        await phone.request({"type": "join", "code": workshop["join_code"], "role": "student"})
        phones.append(phone)
    await consoles[0].request({"type": "open_round", "item": "staff-support"})
    for phone in phones:
        await phone.view(lambda v: status(v) == "voting")

    # Every phone votes while two facilitators on two workers reveal at the same moment.
    replies = await asyncio.gather(
        *(phone.request({"type": "vote", "round": 1, "level": 2}) for phone in phones),
        *(console.request({"type": "reveal", "round": 1}) for console in consoles),
    )
    votes, reveals = replies[: len(phones)], replies[len(phones) :]

    assert sorted(reply["type"] for reply in reveals) == ["ack", "error"]
    assert [r["code"] for r in reveals if r["type"] == "error"] == ["round_revealed"]
    acked = sum(reply["type"] == "ack" for reply in votes)
    refused = [reply["code"] for reply in votes if reply["type"] == "error"]
    assert set(refused) <= {"round_revealed"}
    assert acked + len(refused) == len(phones)
    for console in consoles:
        view = await console.view(lambda v: status(v) == "revealed")
        assert view["rounds"][-1]["result"]["room"]["voters"] == acked
    for client in [*consoles, *phones]:
        await client.close()


async def test_worker_outlives_event_it_cannot_read(workers: list[ServerProcess]) -> None:
    first, second, _ = workers
    workshop = await first.create_workshop()
    projector = await Client.connect(first.ws_url)
    reply = await projector.request({"type": "watch", "workshop": workshop["id"]})
    assert reply["type"] == "ack", reply
    console = await Client.connect(second.ws_url)
    control = {
        "type": "control",
        "workshop": workshop["id"],
        "token": workshop["facilitator_token"],
    }
    assert (await console.request(control))["type"] == "ack"

    # A notice of an event kind this version does not know, as a newer worker might send.
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        unknown = b'{"type":"from_a_newer_version"}'
        await client.publish(
            "cg:events", f"{workshop['id']} {reply['seq'] + 1} 1\n".encode() + unknown
        )
    finally:
        await client.aclose()
    await first.log_line("failed (ValidationError)")

    # The first worker still hears what the second one stores.
    reply = await console.request({"type": "open_round", "item": "staff-support"})
    assert reply["type"] == "ack", reply
    view = await projector.view(lambda v: status(v) == "voting")
    assert view["seq"] == reply["seq"]
