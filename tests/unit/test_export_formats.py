"""Round trips of the exports through real readers: CSV through Python's csv module with
the Excel dialect, XLSX through openpyxl (and LibreOffice when it is installed), and
the Markdown and JSON Schema exports.

The workshop recorded here has emoji, line breaks, carriage returns and text that a
spreadsheet would run as a formula in notes, actions, owners, an aspect title and a
level name. Each test compares the cells with what was recorded, not with the export
it read.
"""

from __future__ import annotations

import csv
import io
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import openpyxl
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
    decide_set_priority,
    decide_vote,
    fold,
    token_digest,
)
from server.export import (
    EXPORT_VERSION,
    WorkshopExport,
    build_export,
    export_csv,
    export_json,
    export_schema,
)
from server.export_markdown import escape_markdown, export_markdown
from server.export_xlsx import export_xlsx
from server.rubric import Aspect, load_rubric_folder

REPO_ROOT = Path(__file__).resolve().parents[2]
NUS = load_rubric_folder(REPO_ROOT / "rubric")["nus-academic-support"]

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
PRINCIPLE = "personalised-support"
SECOND = "joined-up-approach"
DISCUSSION = "trust-and-respect"
UNTOUCHED = "staff-support"
AGENDA = [PRINCIPLE, SECOND, DISCUSSION, UNTOUCHED]
INDUCTION = f"{PRINCIPLE}/induction"
PLACEMENTS = f"{PRINCIPLE}/placements"

NOTES = {
    PRINCIPLE: (
        "Agreed after a re-vote 👩‍🎓.\r\nPlacements still lack a contact.\n\n— Second paragraph ✔"
    ),
    SECOND: '=HYPERLINK("http://example.com","click")',
    DISCUSSION: "+44 20 7946 0000 is the SU's number\nand\ttabs\tstay",
    INDUCTION: "-starts with a minus\nthen 🤝",
    PLACEMENTS: "@mention looks like a formula",
}
ACTIONS = "=cmd|' /C calc'!A0\nThen review in May 🗓"
STAFF_OWNER = "-Head of School"
STUDENT_OWNER = "+Course rep"
LEVEL_NAMES = ["First steps", "Developing", "Developed", "Refining", "=Outstanding"]
FACILITATOR_TOKEN = "facilitator-secret-token"
EXPORTED_AT = 1_700_100_000.0


def run(state: WorkshopState, decide: Callable[..., list[Event]], **command: Any) -> None:
    for event in decide(state, **command):
        apply(state, event)


def custom_rubric() -> Any:
    """The NUS rubric with a formula-looking level name and two aspects on principle 1."""
    principles = [
        msgspec.structs.replace(
            principle,
            aspects=[
                Aspect(id="induction", title="Induction"),
                Aspect(id="placements", title="@Placements and distance learners"),
            ],
        )
        if principle.id == PRINCIPLE
        else principle
        for principle in NUS.principles
    ]
    return msgspec.structs.replace(NUS, id="nus-tweaked", levels=LEVEL_NAMES, principles=principles)


def vote_round(state: WorkshopState, item: str, levels: list[int | None], now: float) -> None:
    run(state, decide_open_round, item=item, now=now)
    number = len(state.rounds)
    for participant, level in zip(state.participants, levels, strict=True):
        run(state, decide_vote, participant=participant, round_number=number, level=level)
    run(state, decide_reveal, round_number=number, now=now + 30)


def build_workshop() -> WorkshopState:
    """Three staff and three students; principle 1 is voted twice and recorded twice,
    its aspects once each; principle 2 has a priority of its own."""
    state = fold(
        [
            WorkshopCreated(
                workshop_id="w-formats",
                title="Formats test",
                scope="department",
                unit="Physics",
                rubric=custom_rubric(),
                agenda=list(AGENDA),
                join_code="QWERTY",
                facilitator_digest=token_digest(FACILITATOR_TOKEN),
                small_group_threshold=3,
                created_at=1_700_000_000.0,
            )
        ]
    )
    for index, role in enumerate(["staff"] * 3 + ["student"] * 3):
        _, events = decide_join(state, role=role, token=f"{role}-token-{index}")
        for event in events:
            apply(state, event)

    vote_round(state, PRINCIPLE, [2, 3, 3, 1, 2, 2], now=100.0)
    run(state, decide_record, item=PRINCIPLE, level=2, notes="First try.", now=140.0)
    vote_round(state, PRINCIPLE, [3, 3, 4, 2, 3, 3], now=200.0)
    run(state, decide_record, item=PRINCIPLE, level=3, notes=NOTES[PRINCIPLE], now=240.0)

    vote_round(state, INDUCTION, [4, 4, 5, 2, 2, 3], now=300.0)
    run(state, decide_record, item=INDUCTION, level=4, notes=NOTES[INDUCTION], now=340.0)
    vote_round(state, PLACEMENTS, [2, 2, 2, 1, 1, 1], now=400.0)
    run(state, decide_record, item=PLACEMENTS, level=1, notes=NOTES[PLACEMENTS], now=440.0)

    vote_round(state, SECOND, [5, 5, 4, 1, 1, 2], now=500.0)
    run(state, decide_record, item=SECOND, level=4, notes=NOTES[SECOND], now=540.0)
    run(state, decide_record, item=DISCUSSION, level=None, notes=NOTES[DISCUSSION], now=600.0)

    run(
        state,
        decide_set_priority,
        item=PRINCIPLE,
        target_level=4,
        actions=ACTIONS,
        staff_owner=STAFF_OWNER,
        student_owner=STUDENT_OWNER,
        now=700.0,
    )
    run(
        state,
        decide_set_priority,
        item=SECOND,
        target_level=5,
        actions="Share the referral map.",
        staff_owner="Director of Student Services",
        student_owner="SU Education Officer",
        now=710.0,
    )
    return state


@pytest.fixture(scope="module")
def state() -> WorkshopState:
    return build_workshop()


@pytest.fixture(scope="module")
def export(state: WorkshopState) -> WorkshopExport:
    return build_export(state, now=EXPORTED_AT)


def neutralised(text: str) -> str:
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def level_name(level: int | None) -> str | None:
    return LEVEL_NAMES[level - 1] if level else None


def expected_positions(state: WorkshopState) -> list[dict[str, Any]]:
    """What was recorded, per agenda item and aspect, from the state itself."""
    rows = []
    for principle_id in AGENDA:
        principle = state.rubric.principle(principle_id)
        assert principle is not None
        agreement = state.agreements.get(principle_id)
        priority = state.priorities.get(principle_id)
        rows.append(
            {
                "record": "item",
                "principle_id": principle_id,
                "principle": principle.title,
                "aspect_id": None,
                "aspect": None,
                "agreed_level": agreement.level if agreement else None,
                "agreed_level_name": level_name(agreement.level) if agreement else None,
                "notes": agreement.notes if agreement else "",
                "priority_target_level": priority.target_level if priority else None,
                "priority_target_level_name": level_name(priority.target_level)
                if priority
                else None,
                "priority_actions": priority.actions if priority else None,
                "priority_staff_owner": priority.staff_owner if priority else None,
                "priority_student_owner": priority.student_owner if priority else None,
            }
        )
        for aspect in principle.aspects:
            aspect_agreement = state.agreements[f"{principle_id}/{aspect.id}"]
            rows.append(
                {
                    "record": "aspect",
                    "principle_id": principle_id,
                    "principle": principle.title,
                    "aspect_id": aspect.id,
                    "aspect": aspect.title,
                    "agreed_level": aspect_agreement.level,
                    "agreed_level_name": level_name(aspect_agreement.level),
                    "notes": aspect_agreement.notes,
                    "priority_target_level": None,
                    "priority_target_level_name": None,
                    "priority_actions": None,
                    "priority_staff_owner": None,
                    "priority_student_owner": None,
                }
            )
    return rows


def read_csv(text: str) -> list[dict[str, str]]:
    assert text.startswith("\ufeff")
    return list(
        csv.DictReader(io.StringIO(text.removeprefix("\ufeff"), newline=""), dialect="excel")
    )


def csv_cell(value: Any) -> str:
    """Return a recorded value as the CSV cell that carries it."""
    if value is None:
        return ""
    if isinstance(value, str):
        return neutralised(value)
    return str(value)


# CSV ---------------------------------------------------------------------------------------


def test_csv_positions_match_recorded(state: WorkshopState, export: WorkshopExport) -> None:
    rows = [row for row in read_csv(export_csv(export)) if row["record"] in ("item", "aspect")]

    expected = expected_positions(state)
    assert len(rows) == len(expected)
    for row, wanted in zip(rows, expected, strict=True):
        for column, value in wanted.items():
            assert row[column] == csv_cell(value), (wanted["principle_id"], column)


def test_csv_one_item_row_per_agenda_item(export: WorkshopExport) -> None:
    rows = read_csv(export_csv(export))

    assert [row["principle_id"] for row in rows if row["record"] == "item"] == AGENDA


def test_csv_final_level_after_revote(export: WorkshopExport) -> None:
    rows = read_csv(export_csv(export))
    item = next(row for row in rows if row["record"] == "item" and row["principle_id"] == PRINCIPLE)

    assert item["agreed_level"] == "3"
    assert item["notes"] == NOTES[PRINCIPLE]
    assert item["aspect_mean"] == "2.5"


def test_csv_round_counts_match_votes(state: WorkshopState, export: WorkshopExport) -> None:
    rows = [row for row in read_csv(export_csv(export)) if row["record"] == "round"]
    level_columns = [f"{index}: {name}" for index, name in enumerate(LEVEL_NAMES, 1)]

    for round_ in state.rounds:
        assert round_.result is not None
        by_group = {row["group"]: row for row in rows if row["round"] == str(round_.number)}
        principle_id, _, aspect_id = round_.item.partition("/")
        for group, distribution in [*round_.result.roles.items(), ("room", round_.result.room)]:
            row = by_group[group]
            assert row["principle_id"] == principle_id
            assert row["aspect_id"] == aspect_id
            assert [int(row[column]) for column in level_columns] == distribution.counts
            assert int(row["voters"]) == distribution.voters


def test_csv_header_neutralised() -> None:
    state = build_workshop()
    export = msgspec.structs.replace(
        build_export(state, now=EXPORTED_AT), levels=["=A1", "+B", "-C", "@D", "\tE"]
    )

    header = next(csv.reader(io.StringIO(export_csv(export).removeprefix("\ufeff"))))

    assert "1: =A1" in header
    assert not [cell for cell in header if cell.startswith(FORMULA_STARTS)]


def test_csv_no_cell_starts_like_formula(export: WorkshopExport) -> None:
    body = export_csv(export).removeprefix("\ufeff")

    for row in csv.reader(io.StringIO(body, newline=""), dialect="excel"):
        for cell in row:
            assert not cell.startswith(FORMULA_STARTS), cell


# XLSX --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def workbook(export: WorkshopExport) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(export_xlsx(export)))


def sheet_rows(workbook: openpyxl.Workbook, name: str) -> list[dict[str, Any]]:
    rows = list(workbook[name].iter_rows(values_only=True))
    header = rows[0]
    return [dict(zip(header, row, strict=True)) for row in rows[1:]]


def xlsx_text(value: str | None) -> str | None:
    """Return recorded text as an XLSX cell stores it: line feeds only, empty as no value."""
    if value is None or value == "":
        return None
    return value.replace("\r\n", "\n").replace("\r", "\n")


XLSX_COLUMNS = {
    "principle_id": "Principle id",
    "principle": "Principle",
    "aspect_id": "Aspect id",
    "aspect": "Aspect",
    "agreed_level": "Agreed level",
    "agreed_level_name": "Agreed level name",
    "notes": "Notes",
    "priority_target_level": "Priority target level",
    "priority_target_level_name": "Priority target level name",
    "priority_actions": "Priority actions",
    "priority_staff_owner": "Priority staff owner",
    "priority_student_owner": "Priority student owner",
}


def test_xlsx_has_expected_sheets(workbook: openpyxl.Workbook) -> None:
    assert workbook.sheetnames == [
        "Agreed positions",
        "Round distributions",
        "Priorities",
        "Workshop",
    ]


def test_xlsx_positions_match_recorded(state: WorkshopState, workbook: openpyxl.Workbook) -> None:
    rows = sheet_rows(workbook, "Agreed positions")

    expected = expected_positions(state)
    assert len(rows) == len(expected)
    for row, wanted in zip(rows, expected, strict=True):
        for key, column in XLSX_COLUMNS.items():
            value = wanted[key]
            cell = row[column]
            if isinstance(value, str) or value is None:
                assert cell == xlsx_text(value), (wanted["principle_id"], column)
            else:
                assert cell == value, (wanted["principle_id"], column)


def test_xlsx_aspect_mean_and_final_medians(workbook: openpyxl.Workbook) -> None:
    item = sheet_rows(workbook, "Agreed positions")[0]

    assert item["Mean of aspects"] == 2.5
    assert item["Final median: staff"] == 3
    assert item["Final median: student"] == 3
    assert item["Rounds"] == 2


def test_xlsx_has_no_formulas(workbook: openpyxl.Workbook) -> None:
    for sheet in workbook:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (sheet.title, cell.coordinate, cell.value)


def test_xlsx_formula_text_is_quote_prefixed(workbook: openpyxl.Workbook) -> None:
    checked = 0
    for sheet in workbook:
        for row in sheet.iter_rows():
            for cell in row:
                if isinstance(cell.value, str) and cell.value.startswith(FORMULA_STARTS):
                    assert cell.quotePrefix, (sheet.title, cell.coordinate)
                    checked += 1
    # Notes of three items, an aspect title, actions, two owners and a level name.
    assert checked >= 8


def test_xlsx_round_counts_match_votes(state: WorkshopState, workbook: openpyxl.Workbook) -> None:
    rows = sheet_rows(workbook, "Round distributions")
    level_columns = [f"{index}: {name}" for index, name in enumerate(LEVEL_NAMES, 1)]

    for round_ in state.rounds:
        assert round_.result is not None
        by_group = {row["Group"]: row for row in rows if row["Round"] == round_.number}
        for group, distribution in [*round_.result.roles.items(), ("room", round_.result.room)]:
            row = by_group[group]
            assert [row[column] for column in level_columns] == distribution.counts
            assert row["Voters"] == distribution.voters
            assert row["Median"] == distribution.median


def test_xlsx_priorities_sheet(state: WorkshopState, workbook: openpyxl.Workbook) -> None:
    rows = sheet_rows(workbook, "Priorities")

    assert [row["Principle id"] for row in rows] == [PRINCIPLE, SECOND]
    first = rows[0]
    assert first["Target level"] == 4
    assert first["Actions"] == ACTIONS
    assert first["Staff owner"] == STAFF_OWNER
    assert first["Student owner"] == STUDENT_OWNER


def test_xlsx_control_characters_replaced() -> None:
    state = build_workshop()
    run(state, decide_record, item=UNTOUCHED, level=2, notes="bell\x07here", now=800.0)
    workbook = openpyxl.load_workbook(io.BytesIO(export_xlsx(build_export(state, now=1.0))))

    row = next(
        r for r in sheet_rows(workbook, "Agreed positions") if r["Principle id"] == UNTOUCHED
    )

    assert row["Notes"] == "bell\ufffdhere"


def test_xlsx_opens_in_libreoffice(
    tmp_path: Path, state: WorkshopState, export: WorkshopExport
) -> None:
    soffice = shutil.which("soffice")
    if soffice is None:
        pytest.fail("LibreOffice is not installed; scripts/test installs libreoffice-calc-nogui")
    source = tmp_path / "export.xlsx"
    source.write_bytes(export_xlsx(export))
    completed = subprocess.run(  # noqa: S603 - a fixed command on a file this test wrote
        [
            soffice,
            "--headless",
            "--convert-to",
            "csv:Text - txt - csv (StarCalc):44,34,76,1",
            "--outdir",
            str(tmp_path),
            str(source),
        ],
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    text = (tmp_path / "export.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    for row, wanted in zip(rows, expected_positions(state), strict=True):
        assert row["Notes"] == (xlsx_text(wanted["notes"]) or "")
        assert row["Principle id"] == wanted["principle_id"]


# Markdown ----------------------------------------------------------------------------------


def test_markdown_has_positions_and_priorities(export: WorkshopExport) -> None:
    text = export_markdown(export)

    assert text.startswith("# Formats test\n")
    assert "## Agreed positions" in text
    assert (
        "| 1 | Personalised academic and pastoral support for all students | Developed (3) | 2.5 |"
        in text
    )
    assert "## Priorities" in text
    assert "- Target level: Refining (4)" in text
    assert f"- Staff owner: {escape_markdown(STAFF_OWNER)}" in text
    assert "Then review in May 🗓" in text


def test_markdown_names_roles_in_plural(export: WorkshopExport) -> None:
    line = next(line for line in export_markdown(export).splitlines() if "Participants" in line)
    counts = {entry.role: entry.count for entry in export.roles}

    for role, count in counts.items():
        name = export.role_plurals[role] if count != 1 else export.role_names[role]
        assert f"{count} {escape_markdown(name)}" in line


def test_markdown_keeps_note_lines(export: WorkshopExport) -> None:
    text = export_markdown(export)

    assert "Agreed after a re-vote 👩‍🎓.\\\nPlacements still lack a contact." in text
    assert "\n\n— Second paragraph ✔\n" in text


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("# not a heading", "\\# not a heading"),
        ("- not a list", "\\- not a list"),
        ("1. not a list", "1\\. not a list"),
        ("<script>x</script>", "\\<script\\>x\\</script\\>"),
        ("[link](http://example.com)", "\\[link\\]\\(http://example.com\\)"),
        ("a | b", "a \\| b"),
        ("plain 👍 text", "plain 👍 text"),
    ],
)
def test_markdown_escapes_typed_text(text: str, escaped: str) -> None:
    assert escape_markdown(text) == escaped


def test_markdown_table_rows_have_eight_cells(export: WorkshopExport) -> None:
    lines = [line for line in export_markdown(export).splitlines() if line.startswith("| ")]

    for line in lines:
        assert len(re.findall(r"(?<!\\)\|", line)) == 9, line


# JSON and its schema -----------------------------------------------------------------------


def test_json_round_trip_with_priorities(export: WorkshopExport) -> None:
    decoded = msgspec.json.decode(export_json(export), type=WorkshopExport)

    assert decoded == export
    assert decoded.export_version == EXPORT_VERSION
    first = decoded.items[0]
    assert first.priority is not None
    assert first.priority.actions == ACTIONS
    assert first.priority.target_level_name == "Refining"
    assert [aspect.item for aspect in first.aspects] == [INDUCTION, PLACEMENTS]
    assert first.aspects[1].notes == NOTES[PLACEMENTS]
    assert first.aspect_mean == 2.5
    assert len(first.descriptors) == 5


def test_schema_lists_every_export_field(export: WorkshopExport) -> None:
    schema = export_schema()
    definitions = schema["$defs"]

    assert schema["$ref"] == "#/$defs/WorkshopExport"
    exported = msgspec.to_builtins(export)
    assert set(definitions["WorkshopExport"]["properties"]) == set(exported)
    assert set(definitions["ExportedItem"]["properties"]) == set(exported["items"][0])
    assert set(definitions["ExportedPriority"]["properties"]) == set(
        exported["items"][0]["priority"]
    )


@pytest.mark.parametrize("render", [export_csv, export_markdown, export_json, export_xlsx])
def test_exports_have_no_participant_data(
    state: WorkshopState, export: WorkshopExport, render: Callable[[WorkshopExport], Any]
) -> None:
    output = render(export)
    if isinstance(output, bytes) and output.startswith(b"PK"):
        workbook = openpyxl.load_workbook(io.BytesIO(output))
        text = "\n".join(
            str(cell)
            for sheet in workbook
            for row in sheet.iter_rows(values_only=True)
            for cell in row
        )
    else:
        text = output.decode() if isinstance(output, bytes) else output

    for participant in state.participants:
        assert participant not in text
    for digest in state.participant_by_digest:
        assert digest not in text
    assert FACILITATOR_TOKEN not in text
    assert state.created.facilitator_digest not in text
    assert "-token-" not in text
