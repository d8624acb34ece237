"""Exports of a workshop's results, built from its state.

An export carries what the room saw and recorded: per agenda item the final agreed
level and notes, and per revealed round the counts per role and level. It never
carries an individual vote, a participant id or a token, and a role hidden by the
small-group rule stays hidden.
"""

from __future__ import annotations

import csv
import io

import msgspec

from server.domain import Round, WorkshopState
from server.stats import Distribution
from server.views import RoleCount

__all__ = ("WorkshopExport", "build_export", "export_csv", "export_json")


class ExportedRound(msgspec.Struct, frozen=True):
    """One round on an item; distributions only when it was revealed."""

    number: int
    revealed: bool
    opened_at: float
    revealed_at: float | None
    roles: dict[str, Distribution]
    hidden_roles: list[str]
    room: Distribution | None
    gap: float | None
    consensus: float | None


class ExportedItem(msgspec.Struct, frozen=True):
    """One agenda item with its final recorded agreement and its rounds."""

    position: int
    principle_id: str
    number: int
    title: str
    has_levels: bool
    recorded: bool
    agreed_level: int | None
    agreed_level_name: str | None
    notes: str
    recorded_at: float | None
    rounds: list[ExportedRound]


class WorkshopExport(msgspec.Struct, frozen=True):
    """A whole workshop as exported; times are Unix seconds."""

    workshop_id: str
    title: str
    scope: str
    unit: str
    rubric_id: str
    rubric_title: str
    levels: list[str]
    roles: list[RoleCount]
    """Roles with how many participants of each joined."""
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
        room=result.room if result else None,
        gap=result.gap if result else None,
        consensus=result.consensus if result else None,
    )


def build_export(state: WorkshopState, *, now: float) -> WorkshopExport:
    """Collect the exportable results of a workshop."""
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
                has_levels=principle.has_levels,
                recorded=agreement is not None,
                agreed_level=level,
                agreed_level_name=levels[level - 1] if level else None,
                notes=agreement.notes if agreement else "",
                recorded_at=agreement.recorded_at if agreement else None,
                rounds=[_export_round(r) for r in state.rounds_for(principle.id)],
            )
        )

    joined = dict.fromkeys((role.id for role in state.rubric.roles), 0)
    for role in state.participants.values():
        joined[role] += 1
    return WorkshopExport(
        workshop_id=created.workshop_id,
        title=created.title,
        scope=created.scope,
        unit=created.unit,
        rubric_id=state.rubric.id,
        rubric_title=state.rubric.title,
        levels=levels,
        roles=[RoleCount(role=role, count=count) for role, count in joined.items()],
        comparison=state.rubric.comparison,
        small_group_threshold=created.small_group_threshold,
        created_at=created.created_at,
        exported_at=now,
        items=items,
    )


def export_json(export: WorkshopExport) -> bytes:
    return msgspec.json.format(msgspec.json.encode(export), indent=2)


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _text_cell(text: str) -> str:
    """Neutralise text that a spreadsheet would run as a formula by prefixing a quote."""
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def _distribution_cells(distribution: Distribution) -> list[object]:
    return [*distribution.counts, distribution.not_sure, distribution.voters, distribution.median]


def export_csv(export: WorkshopExport) -> str:
    """Write the export as CSV for spreadsheets: UTF-8 with a byte-order mark, RFC 4180 quoting.

    Each agenda item has an ``item`` row with its agreed level and notes, followed by
    ``round`` rows: one per role shown and one for the whole room, for each revealed
    round.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, dialect="excel", lineterminator="\r\n")
    level_headers = [f"{index}: {name}" for index, name in enumerate(export.levels, start=1)]
    header = ["record", "position", "principle_number", "principle_id", "principle"]
    header += ["agreed_level", "agreed_level_name", "notes", "round", "group"]
    header += [*level_headers, "not_sure", "voters", "median", "gap", "consensus", "remark"]
    writer.writerow([_text_cell(cell) for cell in header])

    for item in export.items:
        lead = [item.position, item.number, item.principle_id, _text_cell(item.title)]
        writer.writerow(
            [
                "item",
                *lead,
                item.agreed_level,
                _text_cell(item.agreed_level_name or ""),
                _text_cell(item.notes),
            ]
        )
        for round_ in item.rounds:
            if not round_.revealed or round_.room is None:
                continue
            prefix = ["round", *lead, None, None, None, round_.number]
            for role, distribution in round_.roles.items():
                writer.writerow([*prefix, role, *_distribution_cells(distribution)])
            for role in round_.hidden_roles:
                remark = (
                    f"fewer than {export.small_group_threshold} chose a level, "
                    "so this group is counted only in the room total"
                )
                writer.writerow([*prefix, role, *[None] * (len(export.levels) + 5), remark])
            room_cells = _distribution_cells(round_.room)
            writer.writerow([*prefix, "room", *room_cells, round_.gap, round_.consensus])
    return "\ufeff" + buffer.getvalue()
