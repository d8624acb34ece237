"""Specification of workshop exports in ``server.export``: JSON, and CSV for spreadsheets."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest

from server.domain import (
    Event,
    WorkshopCreated,
    WorkshopState,
    apply,
    decide_join,
    decide_open_round,
    decide_record,
    decide_reveal,
    decide_vote,
    fold,
    token_digest,
)
from server.export import WorkshopExport, build_export, export_csv, export_json
from server.rubric import load_rubric_folder

REPO_ROOT = Path(__file__).resolve().parents[2]
RUBRIC = load_rubric_folder(REPO_ROOT / "rubric")["nus-academic-support"]

REVOTED = "personalised-support"
SPLIT = "joined-up-approach"
DISCUSSION = "trust-and-respect"
UNREVEALED = "clear-information"
UNTOUCHED = "staff-support"
AGENDA = [REVOTED, SPLIT, DISCUSSION, UNREVEALED, UNTOUCHED]

FIRST_NOTES = "First attempt: level 2."
FINAL_NOTES = 'Agreed after a re-vote.\n\nPlacements lack a "named contact", says the SU.\r\nDone.'
DISCUSSION_NOTES = 'Trust 🤝 matters, a lot.\nMixed script: مرحبا, שלום, "quoted", end'
SPLIT_NOTES = "Staff and students disagree."
FACILITATOR_TOKEN = "facilitator-secret"
SMALL_GROUP_THRESHOLD = 3
EXPORTED_AT = 1_700_009_999.0


def run(state: WorkshopState, decide: Callable[..., list[Event]], **command: Any) -> None:
    for event in decide(state, **command):
        apply(state, event)


def join(state: WorkshopState, token: str, role: str) -> str:
    participant, events = decide_join(state, role=role, token=token)
    for event in events:
        apply(state, event)
    return participant


def vote_round(state: WorkshopState, item: str, levels: list[int | None], now: float) -> int:
    """Open a round on ``item`` with one vote per participant, in join order."""
    run(state, decide_open_round, item=item, now=now)
    number = len(state.rounds)
    for participant, level in zip(state.participants, levels, strict=True):
        run(state, decide_vote, participant=participant, round_number=number, level=level)
    return number


def build_workshop(*, split_notes: str = SPLIT_NOTES) -> WorkshopState:
    """Build a workshop with three staff and three students.

    Round 1 on ``REVOTED`` shows both roles, its re-vote (round 2) hides the students
    because only two of them chose a level, round 3 on ``SPLIT`` is revealed, and
    round 4 on ``UNREVEALED`` is still voting.
    """
    state = fold(
        [
            WorkshopCreated(
                workshop_id="w-export",
                title="Export test",
                scope="faculty",
                unit="Science",
                rubric=RUBRIC,
                agenda=list(AGENDA),
                join_code="QWERTY",
                facilitator_digest=token_digest(FACILITATOR_TOKEN),
                small_group_threshold=SMALL_GROUP_THRESHOLD,
                created_at=1_700_000_000.0,
            )
        ]
    )
    for index in range(3):
        join(state, f"staff-token-{index}", "staff")
    for index in range(3):
        join(state, f"student-token-{index}", "student")

    vote_round(state, REVOTED, [2, 3, 3, 2, 2, 4], now=100.0)
    run(state, decide_reveal, round_number=1, now=160.0)
    run(state, decide_record, item=REVOTED, level=2, notes=FIRST_NOTES, now=170.0)

    vote_round(state, REVOTED, [3, 3, 4, 3, 3, None], now=200.0)
    run(state, decide_reveal, round_number=2, now=260.0)
    run(state, decide_record, item=REVOTED, level=3, notes=FINAL_NOTES, now=270.0)

    vote_round(state, SPLIT, [5, 5, 4, 1, 1, 2], now=300.0)
    run(state, decide_reveal, round_number=3, now=360.0)
    run(state, decide_record, item=SPLIT, level=3, notes=split_notes, now=370.0)

    run(state, decide_record, item=DISCUSSION, level=None, notes=DISCUSSION_NOTES, now=400.0)

    vote_round(state, UNREVEALED, [1, 2, 3, 4, 5, None], now=500.0)
    return state


@pytest.fixture(scope="module")
def state() -> WorkshopState:
    return build_workshop()


@pytest.fixture(scope="module")
def export(state: WorkshopState) -> WorkshopExport:
    return build_export(state, now=EXPORTED_AT)


def read_csv(text: str) -> list[dict[str, str | None]]:
    """Read exported CSV as a spreadsheet would, after its byte-order mark."""
    assert text.startswith("\ufeff")
    body = text.removeprefix("\ufeff")
    return list(csv.DictReader(io.StringIO(body, newline=""), dialect="excel"))


def item_row(rows: list[dict[str, str | None]], principle_id: str) -> dict[str, str | None]:
    matches = [
        row for row in rows if row["record"] == "item" and row["principle_id"] == principle_id
    ]
    assert len(matches) == 1
    return matches[0]


def round_rows(rows: list[dict[str, str | None]], number: int) -> dict[str, dict[str, str | None]]:
    """Return a round's CSV rows keyed by group (role id or ``room``)."""
    return {
        row["group"]: row
        for row in rows
        if row["record"] == "round" and row["round"] == str(number) and row["group"] is not None
    }


def all_keys(value: Any) -> set[str]:
    """Collect every object key anywhere in decoded JSON."""
    if isinstance(value, dict):
        keys = set(value)
        for child in value.values():
            keys |= all_keys(child)
        return keys
    if isinstance(value, list):
        keys = set()
        for child in value:
            keys |= all_keys(child)
        return keys
    return set()


def both_formats(export: WorkshopExport) -> dict[str, str]:
    return {"json": export_json(export).decode(), "csv": export_csv(export)}


# JSON --------------------------------------------------------------------------------------


def test_json_decodes_to_workshop_export(export: WorkshopExport) -> None:
    decoded = msgspec.json.decode(export_json(export), type=WorkshopExport)

    assert decoded == export


def test_json_keeps_final_level_after_revote(export: WorkshopExport) -> None:
    decoded = msgspec.json.decode(export_json(export), type=WorkshopExport)
    item = decoded.items[0]

    assert item.principle_id == REVOTED
    assert [round_.number for round_ in item.rounds] == [1, 2]
    assert item.recorded
    assert item.agreed_level == 3
    assert item.agreed_level_name == "Developed"
    assert item.notes == FINAL_NOTES
    assert item.recorded_at == 270.0


def test_json_lists_agenda_in_order(export: WorkshopExport) -> None:
    assert [item.principle_id for item in export.items] == AGENDA
    assert [item.position for item in export.items] == [1, 2, 3, 4, 5]


def test_json_discussion_item_has_notes_only(export: WorkshopExport) -> None:
    item = export.items[2]

    assert item.principle_id == DISCUSSION
    assert not item.has_levels
    assert item.recorded
    assert item.agreed_level is None
    assert item.agreed_level_name is None
    assert item.notes == DISCUSSION_NOTES
    assert item.rounds == []


def test_json_unrecorded_item_is_marked(export: WorkshopExport) -> None:
    item = export.items[4]

    assert item.principle_id == UNTOUCHED
    assert not item.recorded
    assert item.agreed_level is None
    assert item.notes == ""
    assert item.recorded_at is None


def test_json_counts_participants_per_role(export: WorkshopExport) -> None:
    assert [(entry.role, entry.count) for entry in export.roles] == [("staff", 3), ("student", 3)]


def test_json_hidden_role_has_no_distribution(export: WorkshopExport) -> None:
    revote = export.items[0].rounds[1]

    assert revote.hidden_roles == ["student"]
    assert revote.roles == {}
    assert revote.room is not None
    assert revote.room.voters == 6
    assert revote.gap is None


def test_json_unrevealed_round_has_no_distributions(export: WorkshopExport) -> None:
    (round_,) = export.items[3].rounds

    assert round_.number == 4
    assert not round_.revealed
    assert round_.revealed_at is None
    assert round_.roles == {}
    assert round_.hidden_roles == []
    assert round_.room is None
    assert round_.gap is None
    assert round_.consensus is None


# What an export never contains -------------------------------------------------------------


@pytest.mark.parametrize("kind", ["json", "csv"])
def test_export_has_no_participant_ids(
    state: WorkshopState, export: WorkshopExport, kind: str
) -> None:
    text = both_formats(export)[kind]

    for participant in state.participants:
        assert re.search(rf"\b{participant}\b", text) is None, participant


@pytest.mark.parametrize("kind", ["json", "csv"])
def test_export_has_no_token_digests(
    state: WorkshopState, export: WorkshopExport, kind: str
) -> None:
    text = both_formats(export)[kind]

    assert state.created.facilitator_digest not in text
    for digest in state.participant_by_digest:
        assert digest not in text


@pytest.mark.parametrize("kind", ["json", "csv"])
def test_export_has_no_tokens(export: WorkshopExport, kind: str) -> None:
    text = both_formats(export)[kind]

    assert FACILITATOR_TOKEN not in text
    assert "staff-token" not in text
    assert "student-token" not in text


def test_json_has_no_vote_or_identity_fields(export: WorkshopExport) -> None:
    keys = all_keys(json.loads(export_json(export)))

    assert "votes" not in keys
    assert "participant" not in keys
    assert "participants" not in keys
    assert "token_digest" not in keys
    assert "facilitator_digest" not in keys


def test_csv_groups_are_roles_or_room(export: WorkshopExport) -> None:
    rows = read_csv(export_csv(export))

    groups = {row["group"] for row in rows if row["record"] == "round"}
    assert groups == {"staff", "student", "room"}


# CSV ---------------------------------------------------------------------------------------


def test_csv_starts_with_utf8_bom(export: WorkshopExport) -> None:
    encoded = export_csv(export).encode("utf-8")

    assert encoded.startswith(b"\xef\xbb\xbf")
    assert not encoded.startswith(b"\xef\xbb\xbf\xef\xbb\xbf")


def test_csv_header_names_levels(export: WorkshopExport) -> None:
    rows = read_csv(export_csv(export))

    header = list(rows[0])
    assert header[:2] == ["record", "position"]
    assert "1: First steps" in header
    assert "5: Outstanding" in header
    assert header[-1] == "remark"


@pytest.mark.parametrize(
    ("principle_id", "notes"),
    [(REVOTED, FINAL_NOTES), (DISCUSSION, DISCUSSION_NOTES), (SPLIT, SPLIT_NOTES)],
    ids=["multi-line-quotes", "emoji-rtl-commas", "plain"],
)
def test_csv_notes_read_back_exactly(export: WorkshopExport, principle_id: str, notes: str) -> None:
    rows = read_csv(export_csv(export))

    assert item_row(rows, principle_id)["notes"] == notes


def test_csv_item_row_has_final_level(export: WorkshopExport) -> None:
    row = item_row(read_csv(export_csv(export)), REVOTED)

    assert row["agreed_level"] == "3"
    assert row["agreed_level_name"] == "Developed"


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_csv_neutralises_formula_notes(start: str) -> None:
    notes = f'{start}HYPERLINK("http://example.com", "x")'
    export = build_export(build_workshop(split_notes=notes), now=EXPORTED_AT)

    row = item_row(read_csv(export_csv(export)), SPLIT)

    assert row["notes"] == "'" + notes


def test_json_keeps_formula_notes_unchanged() -> None:
    notes = "=1+2"
    export = build_export(build_workshop(split_notes=notes), now=EXPORTED_AT)

    decoded = msgspec.json.decode(export_json(export), type=WorkshopExport)

    assert decoded.items[1].notes == notes


@pytest.mark.parametrize("notes", ["Fine = good", " =1+2", "'quoted"])
def test_csv_keeps_notes_without_formula_start(notes: str) -> None:
    export = build_export(build_workshop(split_notes=notes), now=EXPORTED_AT)

    row = item_row(read_csv(export_csv(export)), SPLIT)

    assert row["notes"] == notes


def test_csv_revealed_round_has_role_and_room_rows(export: WorkshopExport) -> None:
    rows = round_rows(read_csv(export_csv(export)), 1)

    assert list(rows) == ["staff", "student", "room"]
    staff_counts = [
        rows["staff"][f"{level}: {name}"] for level, name in enumerate(RUBRIC.levels, 1)
    ]
    assert staff_counts == ["0", "1", "2", "0", "0"]
    assert rows["student"]["median"] == "2.0"
    assert rows["room"]["voters"] == "6"
    assert rows["room"]["gap"] == "1.0"


def test_csv_hidden_role_is_remark_only(export: WorkshopExport) -> None:
    rows = round_rows(read_csv(export_csv(export)), 2)
    hidden = rows["student"]

    assert list(rows) == ["student", "staff", "room"]
    assert hidden["remark"] is not None
    assert "counted only in the room total" in hidden["remark"]
    assert f"fewer than {SMALL_GROUP_THRESHOLD}" in hidden["remark"]
    for level, name in enumerate(RUBRIC.levels, 1):
        assert hidden[f"{level}: {name}"] == ""
    assert hidden["not_sure"] == ""
    assert hidden["voters"] == ""
    assert hidden["median"] == ""


def test_csv_withheld_role_says_why(export: WorkshopExport) -> None:
    withheld = round_rows(read_csv(export_csv(export)), 2)["staff"]

    assert "another group is too small" in withheld["remark"]
    for level, name in enumerate(RUBRIC.levels, 1):
        assert withheld[f"{level}: {name}"] == ""
    assert withheld["voters"] == ""


def test_csv_shown_rows_have_no_remark(export: WorkshopExport) -> None:
    rows = round_rows(read_csv(export_csv(export)), 1)

    assert rows["staff"]["remark"] in (None, "")
    assert rows["room"]["remark"] in (None, "")


def test_csv_unrevealed_round_has_no_rows(export: WorkshopExport) -> None:
    rows = read_csv(export_csv(export))

    assert round_rows(rows, 4) == {}
    assert item_row(rows, UNREVEALED)["agreed_level"] == ""
