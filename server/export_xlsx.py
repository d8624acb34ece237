"""The XLSX export: a workbook of agreed positions, round distributions and priorities.

Every text cell is stored as a string, never as a formula. Text that starts like a
formula also gets Excel's "quote prefix" style, so a spreadsheet keeps it as text
even when someone edits the cell later. The text itself is stored unchanged.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from datetime import UTC, datetime

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from server.export import (
    FORMULA_STARTS,
    ExportedRound,
    WorkshopExport,
    final_round,
    round_remarks,
)

__all__ = ("XLSX_MEDIA_TYPE", "cell_text", "export_xlsx")

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SHEET_POSITIONS = "Agreed positions"
SHEET_ROUNDS = "Round distributions"
SHEET_PRIORITIES = "Priorities"
SHEET_WORKSHOP = "Workshop"
MAX_COLUMN_WIDTH = 60

_LINE_BREAKS = re.compile(r"\r\n?")


def cell_text(text: str) -> str:
    """Return text as an XLSX cell stores it.

    Line breaks become line feeds, the only line break a spreadsheet cell uses, and
    control characters that XML 1.0 cannot carry become U+FFFD.
    """
    # NOTE: openpyxl 3.1 writes a carriage return as is, and XML parsers then turn
    # it into a line feed, so it could not survive in the file anyway.
    return ILLEGAL_CHARACTERS_RE.sub("\ufffd", _LINE_BREAKS.sub("\n", text))


def _timestamp(seconds: float | None) -> datetime | None:
    if seconds is None:
        return None
    # Spreadsheet dates have no time zone, so every time is written in UTC.
    return datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None)


def _append(sheet: Worksheet, values: Sequence[object], *, wrap: bool = False) -> None:
    sheet.append([cell_text(value) if isinstance(value, str) else value for value in values])
    for cell in sheet[sheet.max_row]:
        if isinstance(cell.value, str):
            cell.data_type = "s"
            if cell.value.startswith(FORMULA_STARTS):
                cell.quotePrefix = True
        elif isinstance(cell.value, datetime):
            cell.number_format = "yyyy-mm-dd hh:mm"
        if wrap:
            cell.alignment = Alignment(wrap_text=True, vertical="top")


def _start_sheet(sheet: Worksheet, header: Sequence[str]) -> None:
    _append(sheet, header)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    sheet.freeze_panes = "A2"


def _finish_sheet(sheet: Worksheet) -> None:
    if sheet.max_row > 1:
        sheet.auto_filter.ref = sheet.dimensions
    for column in sheet.columns:
        longest = max(
            (
                max(len(line) for line in str(cell.value).split("\n"))
                for cell in column
                if cell.value
            ),
            default=8,
        )
        letter = get_column_letter(column[0].column)
        sheet.column_dimensions[letter].width = min(MAX_COLUMN_WIDTH, max(8, longest + 2))


def _positions_sheet(sheet: Worksheet, export: WorkshopExport) -> None:
    first, second = export.comparison
    _start_sheet(
        sheet,
        [
            "Position",
            "Principle number",
            "Principle id",
            "Principle",
            "Aspect id",
            "Aspect",
            "Agreed level",
            "Agreed level name",
            "Mean of aspects",
            f"Final median: {first}",
            f"Final median: {second}",
            f"Gap ({first} minus {second})",
            "Consensus",
            "Rounds",
            "Notes",
            "Priority target level",
            "Priority target level name",
            "Priority actions",
            "Priority staff owner",
            "Priority student owner",
            "Recorded at (UTC)",
        ],
    )
    for item in export.items:
        priority = item.priority
        lead = [item.position, item.number, item.principle_id, item.title]
        _append(
            sheet,
            [
                *lead,
                None,
                None,
                item.agreed_level,
                item.agreed_level_name,
                item.aspect_mean,
                *_final_cells(final_round(item.rounds), first, second),
                len(item.rounds),
                item.notes,
                priority.target_level if priority else None,
                priority.target_level_name if priority else None,
                priority.actions if priority else None,
                priority.staff_owner if priority else None,
                priority.student_owner if priority else None,
                _timestamp(item.recorded_at),
            ],
            wrap=True,
        )
        for aspect in item.aspects:
            _append(
                sheet,
                [
                    *lead,
                    aspect.id,
                    aspect.title,
                    aspect.agreed_level,
                    aspect.agreed_level_name,
                    None,
                    *_final_cells(final_round(aspect.rounds), first, second),
                    len(aspect.rounds),
                    aspect.notes,
                    *[None] * 5,
                    _timestamp(aspect.recorded_at),
                ],
                wrap=True,
            )
    _finish_sheet(sheet)


def _final_cells(round_: ExportedRound | None, first: str, second: str) -> list[object]:
    if round_ is None:
        return [None] * 4
    medians = [
        round_.roles[role].median if role in round_.roles else None for role in (first, second)
    ]
    return [*medians, round_.gap, round_.consensus]


def _rounds_sheet(sheet: Worksheet, export: WorkshopExport) -> None:
    level_headers = [f"{index}: {name}" for index, name in enumerate(export.levels, start=1)]
    _start_sheet(
        sheet,
        [
            "Position",
            "Principle number",
            "Principle id",
            "Principle",
            "Aspect id",
            "Aspect",
            "Round",
            "Revealed at (UTC)",
            "Group",
            *level_headers,
            "Not sure",
            "Voters",
            "Median",
            "Gap",
            "Consensus",
            "Remark",
        ],
    )
    for item in export.items:
        lead = [item.position, item.number, item.principle_id, item.title]
        _round_rows(sheet, export, [*lead, None, None], item.rounds)
        for aspect in item.aspects:
            _round_rows(sheet, export, [*lead, aspect.id, aspect.title], aspect.rounds)
    _finish_sheet(sheet)


def _round_rows(
    sheet: Worksheet, export: WorkshopExport, lead: list[object], rounds: list[ExportedRound]
) -> None:
    for round_ in rounds:
        if not round_.revealed or round_.room is None:
            continue
        prefix = [*lead, round_.number, _timestamp(round_.revealed_at)]
        for role, distribution in round_.roles.items():
            counts = [*distribution.counts, distribution.not_sure, distribution.voters]
            _append(sheet, [*prefix, role, *counts, distribution.median])
        for role, remark in round_remarks(export, round_):
            _append(sheet, [*prefix, role, *[None] * (len(export.levels) + 5), remark])
        room = round_.room
        room_cells = [*room.counts, room.not_sure, room.voters, room.median]
        _append(sheet, [*prefix, "room", *room_cells, round_.gap, round_.consensus])


def _priorities_sheet(sheet: Worksheet, export: WorkshopExport) -> None:
    _start_sheet(
        sheet,
        [
            "Principle number",
            "Principle id",
            "Principle",
            "Agreed level name",
            "Target level",
            "Target level name",
            "Actions",
            "Staff owner",
            "Student owner",
        ],
    )
    for item in export.items:
        priority = item.priority
        if priority is None:
            continue
        _append(
            sheet,
            [
                item.number,
                item.principle_id,
                item.title,
                item.agreed_level_name,
                priority.target_level,
                priority.target_level_name,
                priority.actions,
                priority.staff_owner,
                priority.student_owner,
            ],
            wrap=True,
        )
    _finish_sheet(sheet)


def _workshop_sheet(sheet: Worksheet, export: WorkshopExport) -> None:
    _start_sheet(sheet, ["Field", "Value"])
    rows: list[tuple[str, object]] = [
        ("Title", export.title),
        ("Scope", export.scope),
        ("Unit", export.unit),
        ("Rubric", export.rubric_title),
        ("Rubric id", export.rubric_id),
        ("Rubric source", export.rubric_source),
        ("Created at (UTC)", _timestamp(export.created_at)),
        ("Exported at (UTC)", _timestamp(export.exported_at)),
        ("Small-group threshold", export.small_group_threshold),
    ]
    rows += [(f"Participants joined: {entry.role}", entry.count) for entry in export.roles]
    for field, value in rows:
        _append(sheet, [field, value])
    _finish_sheet(sheet)


def export_xlsx(export: WorkshopExport) -> bytes:
    """Write the export as an XLSX workbook and return the file's bytes."""
    workbook = Workbook()
    positions = workbook.active
    positions.title = SHEET_POSITIONS
    _positions_sheet(positions, export)
    _rounds_sheet(workbook.create_sheet(SHEET_ROUNDS), export)
    _priorities_sheet(workbook.create_sheet(SHEET_PRIORITIES), export)
    _workshop_sheet(workbook.create_sheet(SHEET_WORKSHOP), export)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
