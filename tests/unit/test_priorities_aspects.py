"""Specification of priorities and aspects of practice in ``server.domain`` and the views.

States are built as the server builds them: a ``decide_*`` function checks a command
and its events are applied in order.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from server.domain import (
    MAX_ACTIONS_LENGTH,
    MAX_OWNER_LENGTH,
    AgreementRecorded,
    CommandRejected,
    Event,
    ParticipantJoined,
    PriorityCleared,
    PrioritySet,
    RoundOpened,
    WorkshopCreated,
    WorkshopState,
    apply,
    decide_clear_priority,
    decide_join,
    decide_open_round,
    decide_record,
    decide_reveal,
    decide_set_priority,
    decide_show_item,
    decide_vote,
    fold,
    round_guard,
    split_item,
    token_digest,
)
from server.rubric import load_rubric, load_rubric_folder
from server.views import build_room_view

REPO_ROOT = Path(__file__).resolve().parents[2]
NUS = load_rubric_folder(REPO_ROOT / "rubric")["nus-academic-support"]
ASPECT_RUBRIC = load_rubric(Path(__file__).resolve().parent / "data" / "aspect-rubric.toml")

LEVELLED = "personalised-support"
DISCUSSION = "trust-and-respect"
NOT_ON_AGENDA = "coherent-policies"
TIMELINESS = "feedback/timeliness"
USEFULNESS = "feedback/usefulness"


def new_workshop(rubric: Any = NUS, agenda: list[str] | None = None) -> WorkshopState:
    created = WorkshopCreated(
        workshop_id="w-test",
        title="Test workshop",
        scope="department",
        unit="Physics",
        rubric=rubric,
        agenda=agenda if agenda is not None else [LEVELLED, DISCUSSION],
        join_code="ABCDEF",
        facilitator_digest=token_digest("facilitator-token"),
        small_group_threshold=1,
        created_at=1_700_000_000.0,
    )
    return fold([created])


def run(state: WorkshopState, decide: Callable[..., list[Event]], **command: Any) -> list[Event]:
    events = decide(state, **command)
    for event in events:
        apply(state, event)
    return events


def set_priority(state: WorkshopState, **overrides: Any) -> list[Event]:
    command: dict[str, Any] = {
        "item": LEVELLED,
        "target_level": 4,
        "actions": "Name a contact for every placement.",
        "staff_owner": "Head of School",
        "student_owner": "Course rep",
        "now": 10.0,
    }
    command.update(overrides)
    return run(state, decide_set_priority, **command)


def rejection(state: WorkshopState, decide: Callable[..., list[Event]], **command: Any) -> str:
    """Return the code of a rejected command, checking that the state did not change."""
    before = copy.deepcopy(state)
    with pytest.raises(CommandRejected) as raised:
        decide(state, **command)
    assert state == before
    assert raised.value.message
    return raised.value.code


# Priorities --------------------------------------------------------------------------------


def test_priority_is_set_with_owners() -> None:
    state = new_workshop()

    (event,) = set_priority(state, staff_owner="  Head of School ")

    assert isinstance(event, PrioritySet)
    priority = state.priorities[LEVELLED]
    assert priority.target_level == 4
    assert priority.actions == "Name a contact for every placement."
    assert priority.staff_owner == "Head of School"
    assert priority.student_owner == "Course rep"
    assert priority.set_at == 10.0


def test_priority_change_replaces_it() -> None:
    state = new_workshop()
    set_priority(state)

    set_priority(state, target_level=5, actions="Aim higher.", now=20.0)

    assert state.priorities[LEVELLED].target_level == 5
    assert state.priorities[LEVELLED].actions == "Aim higher."
    assert len(state.priorities) == 1


def test_priority_unchanged_makes_no_event() -> None:
    state = new_workshop()
    set_priority(state)

    assert set_priority(state, now=99.0) == []


def test_priority_cleared() -> None:
    state = new_workshop()
    set_priority(state)

    (event,) = run(state, decide_clear_priority, item=LEVELLED)

    assert isinstance(event, PriorityCleared)
    assert state.priorities == {}


def test_clear_unknown_priority_rejected() -> None:
    assert rejection(new_workshop(), decide_clear_priority, item=LEVELLED) == "unknown_priority"


def test_priority_target_must_be_above_agreed_level() -> None:
    state = new_workshop()
    run(state, decide_record, item=LEVELLED, level=3, notes="", now=5.0)

    base = {"item": LEVELLED, "actions": "", "staff_owner": "", "student_owner": "", "now": 1.0}
    assert rejection(state, decide_set_priority, **base, target_level=3) == "invalid_target"
    assert rejection(state, decide_set_priority, **base, target_level=2) == "invalid_target"
    assert set_priority(state, target_level=4) != []


def test_priority_without_target_level() -> None:
    state = new_workshop()
    run(state, decide_record, item=LEVELLED, level=5, notes="", now=5.0)

    set_priority(state, target_level=None)

    assert state.priorities[LEVELLED].target_level is None


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"item": NOT_ON_AGENDA}, "unknown_item"),
        ({"item": "no-such-principle"}, "unknown_item"),
        ({"item": f"{LEVELLED}/an-aspect"}, "unknown_item"),
        ({"target_level": 6}, "invalid_level"),
        ({"target_level": 0}, "invalid_level"),
        ({"item": DISCUSSION, "target_level": 2}, "discussion_item"),
        ({"actions": "a" * (MAX_ACTIONS_LENGTH + 1)}, "text_too_long"),
        ({"staff_owner": "s" * (MAX_OWNER_LENGTH + 1)}, "text_too_long"),
        ({"student_owner": "s" * (MAX_OWNER_LENGTH + 1)}, "text_too_long"),
    ],
    ids=[
        "not-on-agenda",
        "unknown",
        "aspect",
        "level-too-high",
        "level-zero",
        "discussion-target",
        "long-actions",
        "long-staff-owner",
        "long-student-owner",
    ],
)
def test_bad_priority_rejected(overrides: dict[str, Any], code: str) -> None:
    command: dict[str, Any] = {
        "item": LEVELLED,
        "target_level": 4,
        "actions": "",
        "staff_owner": "",
        "student_owner": "",
        "now": 1.0,
    }
    command.update(overrides)

    assert rejection(new_workshop(), decide_set_priority, **command) == code


def test_discussion_item_priority_has_no_target() -> None:
    state = new_workshop()

    set_priority(state, item=DISCUSSION, target_level=None)

    assert state.priorities[DISCUSSION].target_level is None


def test_priority_events_carry_no_round_guard() -> None:
    state = new_workshop()
    run(state, decide_open_round, item=LEVELLED, now=1.0)
    events = decide_set_priority(
        state,
        item=LEVELLED,
        target_level=4,
        actions="",
        staff_owner="",
        student_owner="",
        now=2.0,
    )

    assert round_guard(state, events) == (None, None)
    assert round_guard(state, [PriorityCleared(item=LEVELLED)]) == (None, None)


def test_priority_with_other_events_keeps_guard() -> None:
    state = new_workshop()
    run(state, decide_open_round, item=LEVELLED, now=1.0)
    events: list[Event] = [
        PrioritySet(LEVELLED, 4, "", "", "", 2.0),
        AgreementRecorded(LEVELLED, 3, "", 3.0),
    ]

    assert round_guard(state, events) == ("1:voting", None)


def test_priority_allowed_while_round_open() -> None:
    state = new_workshop()
    run(state, decide_open_round, item=LEVELLED, now=1.0)

    assert set_priority(state) != []


def test_room_view_shows_priority() -> None:
    state = new_workshop()
    set_priority(state)

    view = build_room_view(state)

    entry = view.agenda[0]
    assert entry.priority is not None
    assert entry.priority.target_level == 4
    assert entry.priority.staff_owner == "Head of School"
    assert entry.priority.student_owner == "Course rep"
    assert view.agenda[1].priority is None


# Aspects -----------------------------------------------------------------------------------


def aspect_workshop() -> WorkshopState:
    state = new_workshop(ASPECT_RUBRIC, agenda=["feedback", "belonging"])
    for index, role in enumerate(["staff", "student"]):
        _, events = decide_join(state, role=role, token=f"participant-token-{index}")
        for event in events:
            apply(state, event)
    return state


def test_split_item_ids() -> None:
    assert split_item("feedback") == ("feedback", None)
    assert split_item("feedback/timeliness") == ("feedback", "timeliness")


def test_aspect_round_opens_and_reveals() -> None:
    state = aspect_workshop()

    (opened,) = run(state, decide_open_round, item=TIMELINESS, now=1.0)
    for participant in state.participants:
        run(state, decide_vote, participant=participant, round_number=1, level=2)
    run(state, decide_reveal, round_number=1, now=2.0)

    assert isinstance(opened, RoundOpened)
    assert opened.item == TIMELINESS
    assert state.current_item == TIMELINESS
    assert state.rounds_for(TIMELINESS)[0].result is not None
    assert state.rounds_for("feedback") == []


def test_aspect_on_screen_in_view() -> None:
    state = aspect_workshop()
    run(state, decide_show_item, item=USEFULNESS)

    view = build_room_view(state)

    assert view.current is not None
    assert view.current.id == "feedback"
    assert view.current.item == USEFULNESS
    assert view.current.aspect is not None
    assert view.current.aspect.title == "Usefulness"
    assert view.current.aspect.description == "Whether students can act on it."
    assert len(view.current.descriptors) == 3


def test_aspect_mean_beside_principle_level() -> None:
    state = aspect_workshop()
    run(state, decide_record, item=TIMELINESS, level=1, notes="Late.", now=1.0)
    run(state, decide_record, item=USEFULNESS, level=2, notes="Useful.", now=2.0)
    run(state, decide_record, item="feedback", level=2, notes="Overall.", now=3.0)

    entry = build_room_view(state).agenda[0]

    assert entry.agreed_level == 2
    assert entry.aspect_mean == 1.5
    assert [(a.item, a.agreed_level, a.notes) for a in entry.aspects] == [
        (TIMELINESS, 1, "Late."),
        (USEFULNESS, 2, "Useful."),
    ]


def test_aspect_mean_skips_unrecorded_aspects() -> None:
    state = aspect_workshop()
    run(state, decide_record, item=TIMELINESS, level=3, notes="", now=1.0)
    run(state, decide_record, item=USEFULNESS, level=None, notes="No agreement.", now=2.0)

    entry = build_room_view(state).agenda[0]

    assert entry.aspect_mean == 3
    assert entry.agreed_level is None


def test_aspect_mean_none_before_any_level() -> None:
    entry = build_room_view(aspect_workshop()).agenda[0]

    assert entry.aspect_mean is None
    assert [aspect.recorded for aspect in entry.aspects] == [False, False]


@pytest.mark.parametrize(
    ("decide", "command"),
    [
        (decide_open_round, {"item": "feedback/no-such-aspect", "now": 1.0}),
        (decide_show_item, {"item": "feedback/no-such-aspect"}),
        (decide_record, {"item": "feedback/no-such-aspect", "level": 1, "notes": "", "now": 1.0}),
        (decide_open_round, {"item": "belonging/anything", "now": 1.0}),
        (decide_open_round, {"item": "not-on-agenda/timeliness", "now": 1.0}),
    ],
    ids=["open", "show", "record", "discussion-item", "unknown-principle"],
)
def test_unknown_aspect_rejected(
    decide: Callable[..., list[Event]], command: dict[str, Any]
) -> None:
    assert rejection(aspect_workshop(), decide, **command) == "unknown_item"


def test_aspect_record_waits_for_its_round() -> None:
    state = aspect_workshop()
    run(state, decide_open_round, item=TIMELINESS, now=1.0)

    code = rejection(state, decide_record, item=TIMELINESS, level=1, notes="", now=2.0)

    assert code == "round_open"


def test_aspect_level_out_of_range_rejected() -> None:
    code = rejection(aspect_workshop(), decide_record, item=TIMELINESS, level=4, notes="", now=1.0)

    assert code == "invalid_level"


def test_join_only_events_still_unguarded() -> None:
    state = aspect_workshop()
    joined = ParticipantJoined(participant="p", role="staff", token_digest="d")

    assert round_guard(state, [joined]) == (None, None)
