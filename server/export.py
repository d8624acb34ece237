"""Exports of a workshop's results, built from its state: the export Structs, JSON and CSV.

An export carries what the room saw and recorded: per agenda item the final agreed
level and notes, its aspects, its priority, and per revealed round the counts per role
and level. It never carries an individual vote, a participant id or a token, and a
role hidden by the small-group rule stays hidden. The XLSX, Markdown and report
exports are built from the same :class:`WorkshopExport`.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import msgspec

from server.domain import ASPECT_SEPARATOR, Round, WorkshopState
from server.rubric import Principle
from server.stats import Distribution
from server.views import RoleCount, aspect_mean

__all__ = (
    "EXPORT_VERSION",
    "ExportedItem",
    "WorkshopExport",
    "build_export",
    "export_csv",
    "export_json",
    "export_schema",
    "final_round",
    "round_remarks",
    "spreadsheet_text",
)

EXPORT_VERSION = 2
"""Raised whenever a field of :class:`WorkshopExport` changes meaning or is removed."""


class ExportedRound(msgspec.Struct, frozen=True):
    """One round on an item; distributions only when it was revealed."""

    number: int
    revealed: bool
    opened_at: float
    revealed_at: float | None
    roles: dict[str, Distribution]
    hidden_roles: list[str]
    """Roles of whom fewer than the small-group threshold chose a level."""
    withheld_roles: list[str]
    """Roles whose split is withheld only because another role is hidden."""
    room: Distribution | None
    gap: float | None
    consensus: float | None


class ExportedAspect(msgspec.Struct, frozen=True):
    """One aspect of practice of an agenda item, with its own agreement and rounds."""

    id: str
    item: str
    """``<principle id>/<aspect id>``, as in websocket commands."""
    title: str
    recorded: bool
    agreed_level: int | None
    agreed_level_name: str | None
    notes: str
    recorded_at: float | None
    rounds: list[ExportedRound]


class ExportedPriority(msgspec.Struct, frozen=True):
    """A principle the workshop chose to improve.

    The owners are role holders as the facilitator typed them (e.g. "Head of School"),
    never a participant of the workshop.
    """

    target_level: int | None
    target_level_name: str | None
    actions: str
    staff_owner: str
    student_owner: str
    set_at: float


class ExportedItem(msgspec.Struct, frozen=True):
    """One agenda item with its final recorded agreement, aspects, priority and rounds."""

    position: int
    principle_id: str
    number: int
    title: str
    statement: str
    descriptors: list[str]
    """The rubric's descriptor per level, lowest first; empty for a discussion item."""
    description: str
    has_levels: bool
    recorded: bool
    agreed_level: int | None
    agreed_level_name: str | None
    notes: str
    recorded_at: float | None
    aspect_mean: float | None
    """Mean of the levels agreed for the aspects, to two decimals; ``None`` when no
    aspect has an agreed level."""
    aspects: list[ExportedAspect]
    priority: ExportedPriority | None
    rounds: list[ExportedRound]


class WorkshopExport(msgspec.Struct, frozen=True):
    """A whole workshop as exported; times are Unix seconds."""

    export_version: int
    workshop_id: str
    title: str
    scope: str
    unit: str
    rubric_id: str
    rubric_title: str
    rubric_source: str
    levels: list[str]
    roles: list[RoleCount]
    """Roles with how many participants of each joined."""
    role_names: dict[str, str]
    """Each role's display name by role id, e.g. "Student" for ``student``."""
    role_plurals: dict[str, str]
    """Each role's name for several people by role id, e.g. "Students"."""
    comparison: tuple[str, str]
    small_group_threshold: int
    created_at: float
    exported_at: float
    items: list[ExportedItem]


def _export_round(round_: Round) -> ExportedRound:
    result = round_.result
    return ExportedRound(
        number=round_.number,
        revealed=round_.revealed,
        opened_at=round_.opened_at,
        revealed_at=round_.revealed_at,
        roles=result.roles if result else {},
        hidden_roles=result.hidden_roles if result else [],
        withheld_roles=result.withheld_roles if result else [],
        room=result.room if result else None,
        gap=result.gap if result else None,
        consensus=result.consensus if result else None,
    )


def final_round(rounds: list[ExportedRound]) -> ExportedRound | None:
    """Return the last revealed round of an item, whose result the room last saw."""
    revealed = [round_ for round_ in rounds if round_.revealed]
    return revealed[-1] if revealed else None


def _level_name(levels: list[str], level: int | None) -> str | None:
    return levels[level - 1] if level else None


def _export_aspects(state: WorkshopState, principle: Principle) -> list[ExportedAspect]:
    aspects = []
    for aspect in principle.aspects:
        item = f"{principle.id}{ASPECT_SEPARATOR}{aspect.id}"
        agreement = state.agreements.get(item)
        level = agreement.level if agreement else None
        aspects.append(
            ExportedAspect(
                id=aspect.id,
                item=item,
                title=aspect.title,
                recorded=agreement is not None,
                agreed_level=level,
                agreed_level_name=_level_name(state.rubric.levels, level),
                notes=agreement.notes if agreement else "",
                recorded_at=agreement.recorded_at if agreement else None,
                rounds=[_export_round(r) for r in state.rounds_for(item)],
            )
        )
    return aspects


def _export_priority(state: WorkshopState, principle_id: str) -> ExportedPriority | None:
    priority = state.priorities.get(principle_id)
    if priority is None:
        return None
    return ExportedPriority(
        target_level=priority.target_level,
        target_level_name=_level_name(state.rubric.levels, priority.target_level),
        actions=priority.actions,
        staff_owner=priority.staff_owner,
        student_owner=priority.student_owner,
        set_at=priority.set_at,
    )


def build_export(state: WorkshopState, *, now: float) -> WorkshopExport:
    """Collect the exportable results of a workshop.

    Each item carries the agreement recorded last, whatever rounds or re-votes came
    before it.
    """
    created = state.created
    levels = state.rubric.levels
    items = []
    for position, principle in enumerate(state.agenda_principles(), start=1):
        agreement = state.agreements.get(principle.id)
        level = agreement.level if agreement else None
        items.append(
            ExportedItem(
                position=position,
                principle_id=principle.id,
                number=principle.number,
                title=principle.title,
                statement=principle.statement,
                descriptors=list(principle.descriptors),
                description=principle.description,
                has_levels=principle.has_levels,
                recorded=agreement is not None,
                agreed_level=level,
                agreed_level_name=_level_name(levels, level),
                notes=agreement.notes if agreement else "",
                recorded_at=agreement.recorded_at if agreement else None,
                aspect_mean=aspect_mean(state.aspect_levels(principle)),
                aspects=_export_aspects(state, principle),
                priority=_export_priority(state, principle.id),
                rounds=[_export_round(r) for r in state.rounds_for(principle.id)],
            )
        )

    joined = dict.fromkeys((role.id for role in state.rubric.roles), 0)
    for role in state.participants.values():
        joined[role] += 1
    return WorkshopExport(
        export_version=EXPORT_VERSION,
        workshop_id=created.workshop_id,
        title=created.title,
        scope=created.scope,
        unit=created.unit,
        rubric_id=state.rubric.id,
        rubric_title=state.rubric.title,
        rubric_source=state.rubric.source,
        levels=levels,
        roles=[RoleCount(role=role, count=count) for role, count in joined.items()],
        role_names={role.id: role.name for role in state.rubric.roles},
        role_plurals={role.id: role.plural or role.name for role in state.rubric.roles},
        comparison=state.rubric.comparison,
        small_group_threshold=created.small_group_threshold,
        created_at=created.created_at,
        exported_at=now,
        items=items,
    )


def export_json(export: WorkshopExport) -> bytes:
    return msgspec.json.format(msgspec.json.encode(export), indent=2)


def export_schema() -> dict[str, Any]:
    """Return the JSON Schema of the JSON export, generated from :class:`WorkshopExport`."""
    schema = msgspec.json.schema(WorkshopExport, ref_template="#/$defs/{name}")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"Common Ground workshop export, version {EXPORT_VERSION}",
        **schema,
    }


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""First characters that make Excel or LibreOffice read typed or imported text as a
formula."""


def spreadsheet_text(text: str) -> str:
    """Neutralise text that a spreadsheet would run as a formula by prefixing a quote."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _distribution_cells(distribution: Distribution) -> list[object]:
    return [*distribution.counts, distribution.not_sure, distribution.voters, distribution.median]


CSV_COLUMNS = (
    "record",
    "position",
    "principle_number",
    "principle_id",
    "principle",
    "aspect_id",
    "aspect",
    "agreed_level",
    "agreed_level_name",
    "aspect_mean",
    "notes",
    "priority_target_level",
    "priority_target_level_name",
    "priority_actions",
    "priority_staff_owner",
    "priority_student_owner",
    "round",
    "group",
)
"""CSV columns before the per-level counts; ``not_sure``, ``voters``, ``median``,
``gap``, ``consensus`` and ``remark`` follow them."""


def _csv_rows(export: WorkshopExport) -> list[list[object]]:
    level_headers = [f"{index}: {name}" for index, name in enumerate(export.levels, start=1)]
    header: list[object] = [*CSV_COLUMNS, *level_headers]
    header += ["not_sure", "voters", "median", "gap", "consensus", "remark"]
    rows = [header]
    blank_agreement: list[object] = [None] * 9

    for item in export.items:
        lead = [item.position, item.number, item.principle_id, item.title]
        priority = item.priority
        priority_cells: list[object] = (
            [
                priority.target_level,
                priority.target_level_name,
                priority.actions,
                priority.staff_owner,
                priority.student_owner,
            ]
            if priority
            else [None] * 5
        )
        rows.append(
            [
                "item",
                *lead,
                None,
                None,
                item.agreed_level,
                item.agreed_level_name,
                item.aspect_mean,
                item.notes,
                *priority_cells,
            ]
        )
        rows += _round_rows(export, [*lead, None, None], item.rounds, blank_agreement)
        for aspect in item.aspects:
            aspect_lead = [*lead, aspect.id, aspect.title]
            rows.append(
                [
                    "aspect",
                    *aspect_lead,
                    aspect.agreed_level,
                    aspect.agreed_level_name,
                    None,
                    aspect.notes,
                ]
            )
            rows += _round_rows(export, aspect_lead, aspect.rounds, blank_agreement)
    return rows


def round_remarks(export: WorkshopExport, round_: ExportedRound) -> list[tuple[str, str]]:
    """Return a remark for each role whose split a revealed round withheld."""
    hidden = (
        f"fewer than {export.small_group_threshold} chose a level, "
        "so this group is counted only in the room total"
    )
    withheld = (
        "split withheld because another group is too small to show, "
        "so this group is counted only in the room total"
    )
    return [(role, hidden) for role in round_.hidden_roles] + [
        (role, withheld) for role in round_.withheld_roles
    ]


def _round_rows(
    export: WorkshopExport, lead: list[object], rounds: list[ExportedRound], blank: list[object]
) -> list[list[object]]:
    rows: list[list[object]] = []
    for round_ in rounds:
        if not round_.revealed or round_.room is None:
            continue
        prefix = ["round", *lead, *blank, round_.number]
        for role, distribution in round_.roles.items():
            rows.append([*prefix, role, *_distribution_cells(distribution)])
        for role, remark in round_remarks(export, round_):
            rows.append([*prefix, role, *[None] * (len(export.levels) + 5), remark])
        room_cells = _distribution_cells(round_.room)
        rows.append([*prefix, "room", *room_cells, round_.gap, round_.consensus])
    return rows


def export_csv(export: WorkshopExport) -> str:
    """Write the export as CSV for spreadsheets: UTF-8 with a byte-order mark, RFC 4180 quoting.

    Each agenda item has an ``item`` row with its agreed level, notes and priority. Its
    ``round`` rows follow, one per role shown and one for the whole room in each
    revealed round. Then come an ``aspect`` row and its ``round`` rows for each aspect.
    Text that a spreadsheet would run as a formula, in the header as in any cell,
    starts with a quote.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, dialect="excel", lineterminator="\r\n")
    rows = _csv_rows(export)
    width = len(rows[0])
    for row in rows:
        # RFC 4180 expects the same number of fields on every line.
        padded = [*row, *[None] * (width - len(row))]
        writer.writerow(
            [spreadsheet_text(cell) if isinstance(cell, str) else cell for cell in padded]
        )
    return "\ufeff" + buffer.getvalue()
