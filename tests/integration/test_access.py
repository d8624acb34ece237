"""Who may connect, create, join and delete, and the headers every page carries."""

from __future__ import annotations

from pathlib import Path

import pytest
import websockets
from support import Client, ServerProcess, join_phone


async def test_cross_site_websocket_is_rejected(server: ServerProcess) -> None:
    with pytest.raises(websockets.InvalidStatus) as raised:
        await websockets.connect(server.ws_url, origin="http://attacker.example")
    assert raised.value.response.status_code == 403

    own_page = await websockets.connect(server.ws_url, origin=server.url)
    await own_page.close()


async def test_pages_carry_security_headers(server: ServerProcess) -> None:
    async with server.http() as http:
        for path in ("/", "/j/ABC234", "/api/rubrics", "/static/app.css"):
            response = await http.get(path)
            policy = response.headers["content-security-policy"]
            assert "script-src 'self'" in policy, path
            assert "unsafe-inline" not in policy, path
            assert response.headers["x-content-type-options"] == "nosniff", path
            assert response.headers["referrer-policy"] == "no-referrer", path


async def test_organiser_password_guards_creation(tmp_path: Path) -> None:
    server = ServerProcess(data_dir=tmp_path, environment={"ORGANISER_PASSWORD": "correct horse"})
    await server.start()
    try:
        body = {"title": "T", "scope": "course", "unit": "U"}
        async with server.http() as http:
            config = (await http.get("/api/config")).json()
            missing = await http.post("/api/workshops", json=body)
            wrong = await http.post(
                "/api/workshops", json=body, headers={"Authorization": "Bearer wrong"}
            )
            right = await http.post(
                "/api/workshops", json=body, headers={"Authorization": "Bearer correct horse"}
            )
        assert config == {"organiser_password_required": True}
        assert missing.status_code == 401
        assert "organiser password" in missing.json()["detail"]
        assert wrong.status_code == 401
        assert right.status_code == 201
    finally:
        await server.stop()


async def test_creation_is_open_without_password(server: ServerProcess) -> None:
    async with server.http() as http:
        config = (await http.get("/api/config")).json()
    assert config == {"organiser_password_required": False}


async def test_wrong_join_codes_are_rate_limited(tmp_path: Path) -> None:
    server = ServerProcess(data_dir=tmp_path)
    await server.start()
    try:
        workshop = await server.create_workshop()
        async with server.http() as http:
            statuses = [(await http.get(f"/api/join/WRONG{n:02d}")).status_code for n in range(30)]
            assert set(statuses) == {404}
            limited = await http.get("/api/join/WRONG99")
            right_code = await http.get(f"/api/join/{workshop['join_code']}")
        assert limited.status_code == 429
        assert "wait a minute" in limited.json()["detail"]
        assert right_code.status_code == 429

        phone = await Client.connect(server.ws_url)
        reply = await phone.request({"type": "join", "code": "WRONG1", "role": "staff"})
        assert reply["code"] == "rate_limited"
        await phone.close()
    finally:
        await server.stop()


async def test_facilitator_deletes_workshop(server: ServerProcess) -> None:
    workshop = await server.create_workshop()
    phone = await join_phone(server, workshop["join_code"], "student")
    headers = {"Authorization": f"Bearer {workshop['facilitator_token']}"}
    url = f"/api/workshops/{workshop['id']}"
    async with server.http() as http:
        refused = await http.delete(url, headers={"Authorization": "Bearer nope"})
        deleted = await http.delete(url, headers=headers)
        export = await http.get(f"{url}/export.json", headers=headers)
        lookup = await http.get(f"/api/join/{workshop['join_code']}")
    assert refused.status_code == 401
    assert deleted.status_code == 204
    assert export.status_code == 404
    assert lookup.status_code == 404

    notice = await phone.expect("error", lambda m: m["code"] == "workshop_deleted")
    assert "deleted" in notice["message"]
    with pytest.raises(websockets.ConnectionClosed):
        await phone.expect("never-sent")
    # Nothing follows the notice, not even a view of the deleted workshop.
    assert phone.messages[phone.messages.index(notice) + 1 :] == []


async def test_full_workshop_turns_joiners_away(tmp_path: Path) -> None:
    server = ServerProcess(data_dir=tmp_path, environment={"MAX_PARTICIPANTS": "2"})
    await server.start()
    try:
        workshop = await server.create_workshop()
        first = await join_phone(server, workshop["join_code"], "staff")
        second = await join_phone(server, workshop["join_code"], "student")
        third = await Client.connect(server.ws_url)
        reply = await third.request(
            {"type": "join", "code": workshop["join_code"], "role": "staff"}
        )
        assert reply["code"] == "workshop_full"
        for phone in (first, second, third):
            await phone.close()
    finally:
        await server.stop()


async def test_two_sockets_of_one_participant_vote_once(server: ServerProcess) -> None:
    workshop = await server.create_workshop(small_group_threshold=1)
    console = await Client.connect(server.ws_url)
    await console.request(
        {"type": "control", "workshop": workshop["id"], "token": workshop["facilitator_token"]}
    )
    await console.request({"type": "open_round", "item": "staff-support"})
    token = "two-tabs-one-person-0123456789abcdef"
    tabs = []
    for level in (2, 4):
        tab = await Client.connect(server.ws_url)
        join = {"type": "join", "code": workshop["join_code"], "role": "staff", "token": token}
        await tab.request(join)
        await tab.request({"type": "vote", "round": 1, "level": level})
        tabs.append(tab)

    echoed = await tabs[0].expect("your_vote", lambda m: m["level"] == 4)
    assert echoed["voted"] is True
    await console.request({"type": "reveal", "round": 1})
    view = await console.view(lambda v: v["rounds"] and v["rounds"][-1]["result"] is not None)
    assert view["rounds"][-1]["result"]["room"]["counts"] == [0, 0, 0, 1, 0]
    for client in (console, *tabs):
        await client.close()


async def test_two_tabs_count_as_one_present(server: ServerProcess) -> None:
    workshop = await server.create_workshop()
    console = await Client.connect(server.ws_url)
    await console.request(
        {"type": "control", "workshop": workshop["id"], "token": workshop["facilitator_token"]}
    )
    token = "two-tabs-present-0123456789abcdefgh"
    join = {"type": "join", "code": workshop["join_code"], "role": "student", "token": token}
    tabs = []
    for _ in range(2):
        tab = await Client.connect(server.ws_url)
        await tab.request(join)
        tabs.append(tab)
    other = await join_phone(server, workshop["join_code"], "student")

    def students_present(message: dict) -> int:
        counts = message["view"]["connected"]["participants"]
        return next(entry["count"] for entry in counts if entry["role"] == "student")

    # A view made after every join above: two people, though three sockets.
    await console.request({"type": "show_item", "item": "staff-support"})
    after_joins = await console.expect("console", lambda m: m["view"]["room"]["current"])
    assert students_present(after_joins) == 2
    await tabs[0].close()
    await other.close()
    still_here = await console.expect("console", lambda m: students_present(m) == 1)
    assert still_here["view"]["connected"]["projectors"] == 0
    await tabs[1].close()
    await console.expect("console", lambda m: students_present(m) == 0)
    await console.close()
