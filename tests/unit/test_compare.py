"""Specification of side-by-side comparisons of workshops in ``server.compare``."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest

from server.compare import ComparisonError, build_comparison, comparison_csv, unit_key
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
from server.rubric import load_rubric_folder

REPO_ROOT = Path(__file__).resolve().parents[2]
NUS = load_rubric_folder(REPO_ROOT / "rubric")["nus-academic-support"]
FIRST = "personalised-support"
SECOND = "joined-up-approach"
THIRD = "coherent-policies"


def run(state: WorkshopState, decide: Callable[..., list[Event]], **command: Any) -> None:
    for event in decide(state, **command):
        apply(state, event)


def workshop(
    workshop_id: str,
    *,
    title: str,
    unit: str,
    created_at: float,
    agenda: list[str] | None = None,
    rubric: Any = NUS,
) -> WorkshopState:
    state = fold(
        [
            WorkshopCreated(
                workshop_id=workshop_id,
                title=title,
                scope="department",
                unit=unit,
                rubric=rubric,
                agenda=agenda or [FIRST, SECOND],
                join_code=workshop_id.upper()[:6],
                facilitator_digest=token_digest(f"token-{workshop_id}"),
                small_group_threshold=3,
                created_at=created_at,
            )
        ]
    )
    for index, role in enumerate(["staff"] * 3 + ["student"] * 3):
        _, events = decide_join(state, role=role, token=f"{workshop_id}-{index}")
        for event in events:
            apply(state, event)
    return state


def voted(state: WorkshopState, item: str, levels: list[int], agreed: int) -> None:
    run(state, decide_open_round, item=item, now=1.0)
    number = len(state.rounds)
    for participant, level in zip(state.participants, levels, strict=True):
        run(state, decide_vote, participant=participant, round_number=number, level=level)
    run(state, decide_reveal, round_number=number, now=2.0)
    run(state, decide_record, item=item, level=agreed, notes="", now=3.0)


@pytest.fixture
def states() -> list[WorkshopState]:
    physics_2025 = workshop("phys25", title="Physics 2025", unit="Physics", created_at=1000.0)
    voted(physics_2025, FIRST, [2, 2, 2, 2, 2, 2], agreed=2)
    voted(physics_2025, SECOND, [3, 3, 3, 3, 3, 3], agreed=3)

    chemistry = workshop("chem26", title="Chemistry 2026", unit="Chemistry", created_at=2000.0)
    voted(chemistry, FIRST, [5, 5, 5, 1, 1, 1], agreed=3)

    physics_2026 = workshop(
        "phys26",
        title="Physics 2026",
        unit="  physics ",
        created_at=3000.0,
        agenda=[FIRST, SECOND, THIRD],
    )
    voted(physics_2026, FIRST, [4, 4, 4, 3, 3, 3], agreed=4)
    voted(physics_2026, SECOND, [2, 2, 2, 3, 3, 3], agreed=2)
    return [physics_2026, chemistry, physics_2025]


def cells(comparison: Any, principle_id: str) -> dict[str, Any]:
    principle = next(p for p in comparison.principles if p.principle_id == principle_id)
    return {cell.workshop_id: cell for cell in principle.cells}


def test_columns_keep_requested_order(states: list[WorkshopState]) -> None:
    comparison = build_comparison(states, now=0.0)

    assert [workshop.id for workshop in comparison.workshops] == ["phys26", "chem26", "phys25"]
    assert [principle.principle_id for principle in comparison.principles][:3] == [
        FIRST,
        SECOND,
        THIRD,
    ]
    assert len(comparison.principles) == len(NUS.principles)


def test_agreed_levels_side_by_side(states: list[WorkshopState]) -> None:
    row = cells(build_comparison(states, now=0.0), FIRST)

    assert {workshop: cell.agreed_level for workshop, cell in row.items()} == {
        "phys26": 4,
        "chem26": 3,
        "phys25": 2,
    }
    assert row["phys26"].agreed_level_name == "Refining"


def test_movement_since_same_unit(states: list[WorkshopState]) -> None:
    comparison = build_comparison(states, now=0.0)

    previous = {workshop.id: workshop.previous for workshop in comparison.workshops}
    assert previous == {"phys26": "phys25", "chem26": None, "phys25": None}
    assert cells(comparison, FIRST)["phys26"].movement == 2
    assert cells(comparison, SECOND)["phys26"].movement == -1
    assert cells(comparison, FIRST)["chem26"].movement is None
    assert cells(comparison, FIRST)["phys25"].movement is None


def test_principle_off_agenda_is_marked(states: list[WorkshopState]) -> None:
    row = cells(build_comparison(states, now=0.0), THIRD)

    assert row["phys26"].on_agenda
    assert not row["phys26"].recorded
    assert not row["chem26"].on_agenda
    assert row["chem26"].agreed_level is None


def test_largest_gaps_first(states: list[WorkshopState]) -> None:
    comparison = build_comparison(states, now=0.0)

    gaps = [(gap.workshop_id, gap.principle_id, gap.gap) for gap in comparison.largest_gaps]
    assert gaps == [("chem26", FIRST, 4.0), ("phys26", FIRST, 1.0), ("phys26", SECOND, -1.0)]
    assert cells(comparison, FIRST)["chem26"].medians == (5.0, 1.0)


def test_unit_key_ignores_case_and_spaces() -> None:
    assert unit_key("department", "  Physics   and Astronomy ") == unit_key(
        "department", "physics and astronomy"
    )
    assert unit_key("course", "Physics") != unit_key("department", "Physics")


def test_different_rubrics_rejected(states: list[WorkshopState]) -> None:
    other = msgspec.structs.replace(NUS, id="other-rubric")
    odd = workshop("odd", title="Odd", unit="Physics", created_at=5.0, rubric=other)

    with pytest.raises(ComparisonError, match="only workshops of one rubric compare"):
        build_comparison([states[0], odd], now=0.0)


@pytest.mark.parametrize("count", [0, 1, 21])
def test_workshop_count_limits(states: list[WorkshopState], count: int) -> None:
    many = [
        workshop(f"w{index}", title=f"W{index}", unit="U", created_at=float(index))
        for index in range(count)
    ]

    with pytest.raises(ComparisonError, match="name 2 to 20 workshops"):
        build_comparison(many, now=0.0)


def test_same_workshop_twice_rejected(states: list[WorkshopState]) -> None:
    with pytest.raises(ComparisonError, match="more than once"):
        build_comparison([states[0], states[0]], now=0.0)


def test_csv_rows_per_principle(states: list[WorkshopState]) -> None:
    text = comparison_csv(build_comparison(states, now=0.0))

    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""), dialect="excel"))
    header, body = rows[0], rows[1:]
    assert len(body) == len(NUS.principles)
    assert all(len(row) == len(header) for row in body)
    first = dict(zip(header, body[0], strict=True))
    physics = "Physics 2026 (  physics , 1970-01-01)"
    assert first[f"{physics}: agreed level"] == "4"
    assert first[f"{physics}: movement since previous workshop of the unit"] == "2"
    assert first[f"{physics}: gap (staff minus student)"] == "1.0"
    assert first["largest_gap"] == "4.0"
    assert first["largest_gap_workshop"].startswith("Chemistry 2026")


def test_csv_header_neutralised(states: list[WorkshopState]) -> None:
    evil = workshop("evil", title='=HYPERLINK("http://x")', unit="Physics", created_at=4000.0)

    text = comparison_csv(build_comparison([states[0], evil], now=0.0))

    header = next(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    assert '\'=HYPERLINK("http://x") (Physics, 1970-01-01): agreed level' in header
    assert not [cell for cell in header if cell.startswith(("=", "+", "-", "@", "\t", "\r"))]
