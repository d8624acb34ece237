"""Phones that vanish or stall, and a server killed at any point of a workshop."""

from __future__ import annotations

import asyncio
import base64
import os
import random
import signal
import socket
from pathlib import Path
from typing import Any

from support import Client, ServerProcess, join_phone


def presence(view: dict[str, Any]) -> dict[str, int]:
    return {entry["role"]: entry["count"] for entry in view["connected"]["participants"]}


async def test_vanished_phone_is_dropped_but_vote_stays(tmp_path: Path) -> None:
    server = ServerProcess(
        data_dir=tmp_path, environment={"WS_PING_INTERVAL": "0.5", "WS_PING_TIMEOUT": "0.5"}
    )
    await server.start()
    try:
        workshop = await server.create_workshop(small_group_threshold=1)
        console = await Client.connect(server.ws_url)
        await console.request(
            {"type": "control", "workshop": workshop["id"], "token": workshop["facilitator_token"]}
        )
        await console.request({"type": "open_round", "item": "staff-support"})
        phone = await join_phone(server, workshop["join_code"], "student")
        await phone.request({"type": "vote", "round": 1, "level": 2})
        await console.expect("console", lambda m: presence(m["view"]) == {"staff": 0, "student": 1})

        # The phone stops reading, as a locked phone on lost Wi-Fi does: no pongs.
        phone.connection.transport.pause_reading()

        dropped = await console.expect(
            "console", lambda m: presence(m["view"]) == {"staff": 0, "student": 0}
        )
        voted = dropped["view"]["room"]["rounds"][-1]["voted"]
        assert {"role": "student", "count": 1} in voted
        assert {"role": "student", "count": 1} in dropped["view"]["joined"]
        phone.connection.transport.resume_reading()
        await phone.close()
        await console.close()
    finally:
        await server.stop()


async def test_stalled_phone_does_not_delay_others(server: ServerProcess) -> None:
    workshop = await server.create_workshop(small_group_threshold=1)
    console = await Client.connect(server.ws_url)
    await console.request(
        {"type": "control", "workshop": workshop["id"], "token": workshop["facilitator_token"]}
    )
    stalled = await join_phone(server, workshop["join_code"], "staff")
    stalled.connection.transport.pause_reading()
    others = [await join_phone(server, workshop["join_code"], "student") for _ in range(3)]

    # Views of about 20 KB each fill the stalled phone's socket buffers many times over.
    for index in range(40):
        notes = f"round of notes {index} " + "x" * 19_000
        reply = await console.request(
            {"type": "record", "item": "staff-support", "level": 2, "notes": notes}
        )
        assert reply["type"] == "ack", reply
    await console.request({"type": "open_round", "item": "clear-information"})
    await console.request({"type": "reveal", "round": 1})

    for phone in others:
        view = await phone.view(lambda v: v["rounds"] and v["rounds"][-1]["status"] == "revealed")
        assert view["current"]["id"] == "clear-information"
    stalled.connection.transport.resume_reading()
    for client in (console, stalled, *others):
        await client.close()


SCRIPT: list[tuple[str, dict[str, Any]]] = [
    ("console", {"type": "open_round", "item": "personalised-support"}),
    ("phone0", {"type": "vote", "round": 1, "level": 3}),
    ("phone1", {"type": "vote", "round": 1, "level": 2}),
    ("phone2", {"type": "vote", "round": 1, "level": None}),
    ("phone1", {"type": "vote", "round": 1, "level": 4}),
    ("console", {"type": "reveal", "round": 1}),
    ("console", {"type": "record", "item": "personalised-support", "level": 3, "notes": "one"}),
    ("console", {"type": "open_round", "item": "joined-up-approach"}),
    ("phone2", {"type": "vote", "round": 2, "level": 5}),
    ("phone0", {"type": "vote", "round": 2, "level": 1}),
    ("console", {"type": "reveal", "round": 2}),
    ("console", {"type": "open_round", "item": "joined-up-approach"}),
    ("phone0", {"type": "vote", "round": 3, "level": 2}),
    ("console", {"type": "reveal", "round": 3}),
    ("console", {"type": "record", "item": "joined-up-approach", "level": 2, "notes": "two"}),
    ("console", {"type": "show_item", "item": "trust-and-respect"}),
    ("console", {"type": "record", "item": "trust-and-respect", "level": None, "notes": "three"}),
]
TOKENS = [f"kill-test-phone-{n}-0123456789abcdef" for n in range(3)]
ROLES = ["staff", "student", "student"]


async def _connect_all(server: ServerProcess, workshop: dict[str, Any]) -> dict[str, Client]:
    clients = {"console": await Client.connect(server.ws_url)}
    reply = await clients["console"].request(
        {"type": "control", "workshop": workshop["id"], "token": workshop["facilitator_token"]}
    )
    assert reply["type"] == "ack", reply
    for index, (token, role) in enumerate(zip(TOKENS, ROLES, strict=True)):
        phone = await Client.connect(server.ws_url)
        join = {"type": "join", "code": workshop["join_code"], "role": role, "token": token}
        reply = await phone.request(join)
        assert reply["type"] == "ack", reply
        clients[f"phone{index}"] = phone
    return clients


async def _export(server: ServerProcess, workshop: dict[str, Any]) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {workshop['facilitator_token']}"}
    async with server.http() as http:
        response = await http.get(f"/api/workshops/{workshop['id']}/export.json", headers=headers)
    return response.json()


def _outcome(export: dict[str, Any]) -> list[tuple[Any, ...]]:
    """The recorded agreements and per-round counts, without clock readings."""
    return [
        (
            item["principle_id"],
            item["agreed_level"],
            item["notes"],
            [
                (r["number"], r["revealed"], r["room"] and r["room"]["counts"])
                for r in item["rounds"]
            ],
        )
        for item in export["items"]
    ]


async def test_sigkill_at_random_points_loses_nothing_acknowledged(tmp_path: Path) -> None:
    # A complete run on a server that is not killed gives the outcome after each step.
    reference = ServerProcess(data_dir=tmp_path / "reference")
    await reference.start()
    workshop = await reference.create_workshop(small_group_threshold=1)
    clients = await _connect_all(reference, workshop)
    outcomes = [_outcome(await _export(reference, workshop))]
    for sender, command in SCRIPT:
        reply = await clients[sender].request(command)
        assert reply["type"] == "ack", (command, reply)
        outcomes.append(_outcome(await _export(reference, workshop)))
    for client in clients.values():
        await client.close()
    await reference.stop()

    for kill_after in sorted(random.Random(20261204).sample(range(len(SCRIPT)), 4)):
        data_dir = tmp_path / f"killed-after-{kill_after}"
        server = ServerProcess(data_dir=data_dir)
        await server.start()
        workshop = await server.create_workshop(small_group_threshold=1)
        clients = await _connect_all(server, workshop)
        for sender, command in SCRIPT[:kill_after]:
            assert (await clients[sender].request(command))["type"] == "ack"
        # The next command is in flight when the process dies.
        sender, command = SCRIPT[kill_after]
        await clients[sender].send(command)
        await server.stop(signal.SIGKILL)
        for client in clients.values():
            await client.close()

        restarted = ServerProcess(data_dir=data_dir, port=server.port)
        await restarted.start()
        try:
            outcome = _outcome(await _export(restarted, workshop))
            assert outcome in (outcomes[kill_after], outcomes[kill_after + 1]), kill_after
            phone = await Client.connect(restarted.ws_url)
            rejoin = {"type": "join", "code": workshop["join_code"], "token": TOKENS[0]}
            assert (await phone.request(rejoin))["type"] == "ack"
            await phone.close()
        finally:
            await restarted.stop()


async def test_idle_client_gets_application_ping(server: ServerProcess) -> None:
    workshop = await server.create_workshop()
    projector = await Client.connect(server.ws_url)
    await projector.request({"type": "watch", "workshop": workshop["id"]})
    await projector.expect("room")

    # Browsers cannot see protocol pings, so the server sends its own after
    # 15 s of silence, at the next visit of its watcher (every 5 s).
    projector.timeout = 25
    ping = await projector.expect("ping")
    assert ping == {"type": "ping"}
    await projector.close()


async def test_closed_sockets_cycles_collected(tmp_path: Path) -> None:
    server = ServerProcess(data_dir=tmp_path)
    await server.start()
    try:
        workshop = await server.create_workshop()
        phones = [await join_phone(server, workshop["join_code"], "student") for _ in range(3)]
        for phone in phones:
            await phone.close()

        # With few clients connected, a full collection is short, so it runs soon.
        line = await server.log_line("a full garbage collection after")
        closed = int(line.split(" after ")[1].split()[0])
        assert 1 <= closed <= len(phones)
    finally:
        await server.stop()


async def test_log_skips_per_socket_lines(tmp_path: Path) -> None:
    server = ServerProcess(data_dir=tmp_path)
    await server.start()
    workshop = await server.create_workshop()
    phone = await join_phone(server, workshop["join_code"], "staff")
    await phone.close()
    await server.stop()

    assert not [line for line in server.log if "connection open" in line]
    assert not [line for line in server.log if '"WebSocket /ws" [accepted]' in line]
    assert [line for line in server.log if "Uvicorn running on" in line]


def _masked_text_frame(text: str) -> bytes:
    """Encode one client-to-server text frame (RFC 6455 requires clients to mask)."""
    payload = text.encode()
    mask = os.urandom(4)
    length = len(payload)
    header = (
        bytes([0x81, 0x80 | length])
        if length < 126
        else bytes([0x81, 0xFE]) + length.to_bytes(2, "big")
    )
    return header + mask + bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))


async def test_client_that_never_reads_is_dropped(tmp_path: Path) -> None:
    server = ServerProcess(data_dir=tmp_path)
    await server.start()
    loop = asyncio.get_running_loop()
    client = socket.socket()
    client.setblocking(False)
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
    sending: asyncio.Task[None] | None = None
    try:
        await loop.sock_connect(client, ("127.0.0.1", server.port))
        key = base64.b64encode(os.urandom(16)).decode()
        handshake = (
            f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        )
        await loop.sock_sendall(client, handshake.encode())
        assert (await loop.sock_recv(client, 12)) == b"HTTP/1.1 101"

        # Each invalid frame gets an error reply that the client never reads, until the
        # server's buffers are full and its queue for this client overflows. The frames
        # go out in the background, as a server that stops reading would block them.
        frames = _masked_text_frame("not json") * 20_000
        sending = asyncio.create_task(loop.sock_sendall(client, frames))
        line = await server.log_line("stopped reading its messages")
        assert "unidentified" in line

        # The server is still serving everyone else.
        workshop = await server.create_workshop()
        phone = await join_phone(server, workshop["join_code"], "staff")
        await phone.close()
    finally:
        if sending is not None:
            sending.cancel()
        client.close()
        await server.stop()
