"""The HTTP interface: rubrics, workshop creation, QR codes, schemas and pages."""

from __future__ import annotations

import pytest
from support import ServerProcess


async def test_health_and_openapi(server: ServerProcess) -> None:
    async with server.http() as http:
        health = await http.get("/healthz")
        openapi = await http.get("/schema/openapi.json")
    assert health.json() == {"status": "ok"}
    paths = openapi.json()["paths"]
    for path in (
        "/api/workshops",
        "/api/rubrics",
        "/api/rubrics/{rubric_id}",
        "/api/workshops/{workshop_id}/export.csv",
        "/api/workshops/{workshop_id}/export.json",
        "/healthz",
    ):
        assert path in paths, path


async def test_protocol_schema_lists_both_unions(server: ServerProcess) -> None:
    async with server.http() as http:
        schema = (await http.get("/api/protocol")).json()
    client_tags = {
        ref["$ref"].rsplit("/", 1)[1] for ref in schema["properties"]["client_message"]["anyOf"]
    }
    server_tags = {
        ref["$ref"].rsplit("/", 1)[1] for ref in schema["properties"]["server_message"]["anyOf"]
    }
    assert client_tags == {
        "Join",
        "Watch",
        "Control",
        "Vote",
        "ShowItem",
        "OpenRound",
        "Reveal",
        "Record",
        "SetPriority",
        "ClearPriority",
    }
    assert {
        "Welcome",
        "Room",
        "Console",
        "YourVote",
        "Ack",
        "Error",
        "Status",
        "Ping",
    } == server_tags
    assert schema["$defs"]["Vote"]["properties"]["type"] == {"enum": ["vote"]}


async def test_rubric_endpoints(server: ServerProcess) -> None:
    async with server.http() as http:
        listed = (await http.get("/api/rubrics")).json()
        rubric = (await http.get("/api/rubrics/nus-academic-support")).json()
        missing = await http.get("/api/rubrics/no-such-rubric")
    assert [entry["id"] for entry in listed] == ["nus-academic-support"]
    assert len(rubric["principles"]) == 10
    assert [role["id"] for role in rubric["roles"]] == ["staff", "student"]
    assert missing.status_code == 404


async def test_create_workshop_returns_links(server: ServerProcess) -> None:
    workshop = await server.create_workshop(agenda=["staff-support", "trust-and-respect"])
    assert len(workshop["join_code"]) == 6
    assert len(workshop["facilitator_token"]) >= 40
    assert workshop["facilitator_url"].endswith(
        f"/console/{workshop['id']}#token={workshop['facilitator_token']}"
    )
    assert workshop["projector_url"].endswith(f"/projector/{workshop['id']}")
    assert workshop["join_url"].endswith(f"/j/{workshop['join_code']}")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"scope": "department", "unit": "Physics"}, "title"),
        ({"title": "T", "scope": "galaxy", "unit": "Physics"}, "scope"),
        ({"title": "   ", "scope": "course", "unit": "Physics"}, "title: must not be blank"),
        ({"title": "T", "scope": "course", "unit": "P", "rubric": "nope"}, "unknown rubric 'nope'"),
        ({"title": "T", "scope": "course", "unit": "P", "agenda": []}, "agenda"),
        ({"title": "T", "scope": "course", "unit": "P", "agenda": ["x"]}, "'x' is not a principle"),
        (
            {"title": "T", "scope": "course", "unit": "P", "agenda": ["staff-support"] * 2},
            "more than once",
        ),
        ({"title": "T", "scope": "course", "unit": "P", "small_group_threshold": 0}, "small_group"),
        ({"title": "T", "scope": "course", "unit": "P", "colour": "red"}, "colour"),
    ],
)
async def test_create_workshop_rejects_bad_input(
    server: ServerProcess, body: dict[str, object], expected: str
) -> None:
    async with server.http() as http:
        response = await http.post("/api/workshops", json=body)
    assert response.status_code == 400
    assert expected in response.json()["detail"]


async def test_malformed_json_body_is_rejected(server: ServerProcess) -> None:
    async with server.http() as http:
        response = await http.post(
            "/api/workshops", content=b"{not json", headers={"content-type": "application/json"}
        )
    assert response.status_code == 400


async def test_qr_code_encodes_join_url(server: ServerProcess) -> None:
    workshop = await server.create_workshop()
    async with server.http() as http:
        response = await http.get(f"/api/workshops/{workshop['id']}/qr.svg")
        missing = await http.get("/api/workshops/none/qr.svg")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("image/svg+xml")
    assert response.text.lstrip().startswith("<svg")
    assert missing.status_code == 404


@pytest.mark.parametrize("path", ["/", "/console/abc", "/projector/abc", "/j", "/j/ABC234"])
async def test_pages_are_served(server: ServerProcess, path: str) -> None:
    async with server.http() as http:
        response = await http.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
