"""Side-by-side comparison of workshops that used the same rubric.

The workshops may be departments of one institution, or the same unit a year apart.
For each principle the comparison shows each workshop's agreed level and the movement
since the previous workshop of the same unit. It also shows the gap between the two
compared roles in the last revealed round. Like every export it carries no
individual vote and no name.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import msgspec

from server.domain import WorkshopState
from server.export import ExportedItem, build_export, final_round, spreadsheet_text

__all__ = ("Comparison", "ComparisonError", "build_comparison", "comparison_csv", "unit_key")

MAX_WORKSHOPS = 20
LARGEST_GAPS = 10
"""How many of the largest gaps the comparison lists."""


class ComparisonError(ValueError):
    """Workshops that cannot be compared, with the reason."""


class ComparedWorkshop(msgspec.Struct, frozen=True):
    id: str
    title: str
    scope: str
    unit: str
    created_at: float
    previous: str | None
    """The id of the latest earlier workshop in this comparison with the same scope and
    unit, against which ``movement`` is measured."""


class ComparedCell(msgspec.Struct, frozen=True):
    """One principle in one workshop."""

    workshop_id: str
    on_agenda: bool
    recorded: bool
    agreed_level: int | None
    agreed_level_name: str | None
    aspect_mean: float | None
    movement: int | None
    """Agreed level minus the one agreed in the ``previous`` workshop; ``None`` when
    either has no agreed level or there is no previous workshop."""
    medians: tuple[float | None, float | None]
    """The two compared roles' medians in the last revealed round, in comparison order."""
    gap: float | None
    """The first compared role's median minus the second's in the last revealed round."""


class ComparedPrinciple(msgspec.Struct, frozen=True):
    principle_id: str
    number: int
    title: str
    has_levels: bool
    cells: list[ComparedCell]
    """One per workshop, in the order of ``Comparison.workshops``."""


class Disagreement(msgspec.Struct, frozen=True):
    """A principle on which the two compared roles placed a workshop far apart."""

    workshop_id: str
    principle_id: str
    number: int
    title: str
    gap: float


class Comparison(msgspec.Struct, frozen=True):
    rubric_id: str
    rubric_title: str
    levels: list[str]
    comparison: tuple[str, str]
    workshops: list[ComparedWorkshop]
    principles: list[ComparedPrinciple]
    largest_gaps: list[Disagreement]
    """The largest gaps in any workshop, largest first, at most ``LARGEST_GAPS``."""


def unit_key(scope: str, unit: str) -> tuple[str, str]:
    """Return what makes two workshops benchmark the same unit: scope and unit name,
    ignoring case and repeated spaces."""
    return scope, " ".join(unit.split()).casefold()


def _previous_workshops(states: list[WorkshopState]) -> dict[str, str | None]:
    """Map each workshop id to the latest earlier workshop id of the same unit."""
    previous: dict[str, str | None] = {}
    latest: dict[tuple[str, str], str] = {}
    for state in sorted(states, key=lambda s: s.created.created_at):
        created = state.created
        key = unit_key(created.scope, created.unit)
        previous[created.workshop_id] = latest.get(key)
        latest[key] = created.workshop_id
    return previous


def _cell(
    workshop_id: str,
    item: ExportedItem | None,
    previous: ExportedItem | None,
    comparison: tuple[str, str],
) -> ComparedCell:
    if item is None:
        return ComparedCell(workshop_id, False, False, None, None, None, None, (None, None), None)
    movement = None
    if previous is not None and previous.agreed_level and item.agreed_level:
        movement = item.agreed_level - previous.agreed_level
    final = final_round(item.rounds)
    medians = tuple(
        final.roles[role].median if final and role in final.roles else None for role in comparison
    )
    return ComparedCell(
        workshop_id=workshop_id,
        on_agenda=True,
        recorded=item.recorded,
        agreed_level=item.agreed_level,
        agreed_level_name=item.agreed_level_name,
        aspect_mean=item.aspect_mean,
        movement=movement,
        medians=(medians[0], medians[1]),
        gap=final.gap if final else None,
    )


def build_comparison(states: list[WorkshopState], *, now: float) -> Comparison:
    """Compare workshops of one rubric, in the order given.

    Raises:
        ComparisonError: for fewer than two or more than ``MAX_WORKSHOPS`` workshops, a
            workshop named twice, or workshops on different rubrics.
    """
    if not 2 <= len(states) <= MAX_WORKSHOPS:
        raise ComparisonError(
            f"workshops: name 2 to {MAX_WORKSHOPS} workshops to compare, not {len(states)}"
        )
    ids = [state.created.workshop_id for state in states]
    if len(set(ids)) != len(ids):
        raise ComparisonError("workshops: a workshop is named more than once")
    rubric_ids = {state.rubric.id for state in states}
    if len(rubric_ids) > 1:
        listed = ", ".join(f"{s.created.workshop_id} uses {s.rubric.id}" for s in states)
        raise ComparisonError(f"workshops: only workshops of one rubric compare; {listed}")

    rubric = states[0].rubric
    previous = _previous_workshops(states)
    items = {
        state.created.workshop_id: {
            item.principle_id: item for item in build_export(state, now=now).items
        }
        for state in states
    }

    principle_order = [principle for principle in rubric.principles]
    known = {principle.id for principle in principle_order}
    for state in states[1:]:
        for principle in state.rubric.principles:
            if principle.id not in known:
                principle_order.append(principle)
                known.add(principle.id)

    principles = []
    gaps = []
    for principle in principle_order:
        cells = []
        for workshop_id in ids:
            earlier = previous[workshop_id]
            item = items[workshop_id].get(principle.id)
            earlier_item = items[earlier].get(principle.id) if earlier else None
            cell = _cell(workshop_id, item, earlier_item, rubric.comparison)
            cells.append(cell)
            if cell.gap:
                gaps.append(
                    Disagreement(
                        workshop_id, principle.id, principle.number, principle.title, cell.gap
                    )
                )
        principles.append(
            ComparedPrinciple(
                principle_id=principle.id,
                number=principle.number,
                title=principle.title,
                has_levels=principle.has_levels,
                cells=cells,
            )
        )
    gaps.sort(key=lambda disagreement: abs(disagreement.gap), reverse=True)

    return Comparison(
        rubric_id=rubric.id,
        rubric_title=rubric.title,
        levels=rubric.levels,
        comparison=rubric.comparison,
        workshops=[
            ComparedWorkshop(
                id=state.created.workshop_id,
                title=state.created.title,
                scope=state.created.scope,
                unit=state.created.unit,
                created_at=state.created.created_at,
                previous=previous[state.created.workshop_id],
            )
            for state in states
        ],
        principles=principles,
        largest_gaps=gaps[:LARGEST_GAPS],
    )


def _label(workshop: ComparedWorkshop) -> str:
    date = datetime.fromtimestamp(workshop.created_at, UTC).strftime("%Y-%m-%d")
    return f"{workshop.title} ({workshop.unit}, {date})"


def comparison_csv(comparison: Comparison) -> str:
    """Write the comparison as CSV: one row per principle, four columns per workshop.

    The encoding, quoting and formula neutralising are those of the workshop CSV export.
    """
    first, second = comparison.comparison
    header = ["principle_number", "principle_id", "principle"]
    for workshop in comparison.workshops:
        label = _label(workshop)
        header += [
            f"{label}: agreed level",
            f"{label}: agreed level name",
            f"{label}: movement since previous workshop of the unit",
            f"{label}: gap ({first} minus {second})",
        ]
    header += ["largest_gap", "largest_gap_workshop"]

    buffer = io.StringIO()
    writer = csv.writer(buffer, dialect="excel", lineterminator="\r\n")
    writer.writerow([spreadsheet_text(cell) for cell in header])
    labels = {workshop.id: _label(workshop) for workshop in comparison.workshops}
    for principle in comparison.principles:
        row: list[object] = [principle.number, principle.principle_id, principle.title]
        for cell in principle.cells:
            row += [cell.agreed_level, cell.agreed_level_name, cell.movement, cell.gap]
        gapped = [cell for cell in principle.cells if cell.gap]
        widest = max(gapped, key=lambda cell: abs(cell.gap or 0), default=None)
        row += [widest.gap, labels[widest.workshop_id]] if widest else [None, None]
        writer.writerow([spreadsheet_text(cell) if isinstance(cell, str) else cell for cell in row])
    return "\ufeff" + buffer.getvalue()
