"""Stopping and restarting the server loses nothing that was acknowledged."""

from __future__ import annotations

import signal
from pathlib import Path

from support import Client, ServerProcess

TOKEN = "durable-participant-token-0123456789"


async def test_restart_keeps_workshop_votes_and_notes(tmp_path: Path) -> None:
    first = ServerProcess(data_dir=tmp_path)
    await first.start()
    workshop = await first.create_workshop(small_group_threshold=1)
    code = workshop["join_code"]

    console = await Client.connect(first.ws_url)
    await console.request(
        {"type": "control", "workshop": workshop["id"], "token": workshop["facilitator_token"]}
    )
    phone = await Client.connect(first.ws_url)
    await phone.request({"type": "join", "code": code, "role": "student", "token": TOKEN})
    await console.request({"type": "open_round", "item": "staff-support"})
    await phone.request({"type": "vote", "round": 1, "level": 2})
    await console.request({"type": "reveal", "round": 1})
    await console.request(
        {"type": "record", "item": "staff-support", "level": 2, "notes": "Workload model\nmissing"}
    )
    await console.request({"type": "open_round", "item": "learning-to-learn"})
    reply = await phone.request({"type": "vote", "round": 2, "level": 5})
    assert reply["type"] == "ack"

    # SIGKILL: no shutdown code runs, so only what was stored before the ack survives.
    await first.stop(signal.SIGKILL)
    await console.close()
    await phone.close()

    second = ServerProcess(data_dir=tmp_path, port=first.port)
    await second.start()
    try:
        again = await Client.connect(second.ws_url)
        reply = await again.request({"type": "join", "code": code.lower(), "token": TOKEN})
        assert reply["type"] == "ack", reply
        mine = await again.expect("your_vote")
        assert mine["round"] == 2
        assert mine["level"] == 5
        view = await again.view(lambda v: v["rounds"])
        assert view["current"]["id"] == "learning-to-learn"
        assert view["rounds"][-1]["status"] == "voting"
        assert view["agenda"][3]["agreed_level"] == 2
        assert view["agenda"][3]["notes"] == "Workload model\nmissing"

        console = await Client.connect(second.ws_url)
        reply = await console.request(
            {"type": "control", "workshop": workshop["id"], "token": workshop["facilitator_token"]}
        )
        assert reply["type"] == "ack", reply
        reply = await console.request({"type": "reveal", "round": 2})
        assert reply["type"] == "ack", reply
        revealed = await again.view(lambda v: v["rounds"][-1]["status"] == "revealed")
        assert revealed["rounds"][-1]["result"]["roles"]["student"]["counts"] == [0, 0, 0, 0, 1]

        headers = {"Authorization": f"Bearer {workshop['facilitator_token']}"}
        async with second.http() as http:
            exported = await http.get(
                f"/api/workshops/{workshop['id']}/export.json", headers=headers
            )
        rounds = exported.json()["items"][3]["rounds"]
        assert rounds[0]["roles"]["student"]["counts"] == [0, 1, 0, 0, 0]
        await again.close()
        await console.close()
    finally:
        await second.stop()


async def test_log_has_no_tokens_or_notes(tmp_path: Path) -> None:
    server = ServerProcess(data_dir=tmp_path)
    await server.start()
    workshop = await server.create_workshop()
    console = await Client.connect(server.ws_url)
    await console.request(
        {"type": "control", "workshop": workshop["id"], "token": workshop["facilitator_token"]}
    )
    phone = await Client.connect(server.ws_url)
    await phone.request(
        {"type": "join", "code": workshop["join_code"], "role": "staff", "token": TOKEN}
    )
    await console.request(
        {"type": "record", "item": "staff-support", "level": 4, "notes": "secret-note-text"}
    )
    async with server.http() as http:
        headers = {"Authorization": f"Bearer {workshop['facilitator_token']}"}
        await http.get(f"/api/workshops/{workshop['id']}/export.csv", headers=headers)
    await console.close()
    await phone.close()
    await server.stop()

    log = "\n".join(server.log)
    assert "agreement recorded" in log
    assert workshop["facilitator_token"] not in log
    assert TOKEN not in log
    assert "secret-note-text" not in log
