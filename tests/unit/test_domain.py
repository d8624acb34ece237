"""Specification of the workshop state machine in ``server.domain``.

Every state here is built the way the server builds it: a ``decide_*`` function checks
a command against the state, and its events are applied in order.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from server.domain import (
    MAX_NOTES_LENGTH,
    AgreementRecorded,
    CommandRejected,
    CurrentItemChanged,
    Event,
    ParticipantJoined,
    RoundOpened,
    RoundRevealed,
    VoteCast,
    WorkshopCreated,
    WorkshopState,
    apply,
    decide_join,
    decide_open_round,
    decide_record,
    decide_reveal,
    decide_show_item,
    decide_vote,
    fold,
    token_digest,
)
from server.rubric import load_rubric_folder
from server.stats import Distribution

REPO_ROOT = Path(__file__).resolve().parents[2]
RUBRIC = load_rubric_folder(REPO_ROOT / "rubric")["nus-academic-support"]

LEVELLED = "personalised-support"
OTHER_LEVELLED = "joined-up-approach"
DISCUSSION = "trust-and-respect"
NOT_ON_AGENDA = "coherent-policies"
AGENDA = [LEVELLED, OTHER_LEVELLED, DISCUSSION]

CREATED_AT = 1_700_000_000.0


def new_workshop(*, small_group_threshold: int = 1) -> WorkshopState:
    created = WorkshopCreated(
        workshop_id="w-test",
        title="Test workshop",
        scope="department",
        unit="Physics",
        rubric=RUBRIC,
        agenda=list(AGENDA),
        join_code="ABCDEF",
        facilitator_digest=token_digest("facilitator-token"),
        small_group_threshold=small_group_threshold,
        created_at=CREATED_AT,
    )
    return fold([created])


def run(state: WorkshopState, decide: Callable[..., list[Event]], **command: Any) -> list[Event]:
    """Decide a command and apply its events to ``state``, as the server does."""
    events = decide(state, **command)
    for event in events:
        apply(state, event)
    return events


def join(state: WorkshopState, token: str, role: str | None) -> str:
    participant, events = decide_join(state, role=role, token=token)
    for event in events:
        apply(state, event)
    return participant


def rejection(state: WorkshopState, decide: Callable[..., Any], **command: Any) -> CommandRejected:
    """Run a command that must be rejected and return the rejection."""
    with pytest.raises(CommandRejected) as caught:
        decide(state, **command)
    return caught.value


def revealed_round(
    state: WorkshopState, item: str, votes: dict[str, int | None], now: float
) -> int:
    """Open a round on ``item``, cast ``votes`` (participant to level) and reveal it."""
    opened = run(state, decide_open_round, item=item, now=now)
    number = opened[0].round
    for participant, level in votes.items():
        run(state, decide_vote, participant=participant, round_number=number, level=level)
    run(state, decide_reveal, round_number=number, now=now + 60)
    return number


# Joining -----------------------------------------------------------------------------------


def test_join_adds_participant_with_role() -> None:
    state = new_workshop()

    participant, events = decide_join(state, role="student", token="token-a")

    assert events == [
        ParticipantJoined(
            participant=participant, role="student", token_digest=token_digest("token-a")
        )
    ]
    apply(state, events[0])
    assert state.participants == {participant: "student"}


def test_join_gives_each_participant_new_id() -> None:
    state = new_workshop()

    first = join(state, "token-a", "staff")
    second = join(state, "token-b", "staff")

    assert first != second
    assert len(state.participants) == 2


def test_join_with_same_token_resumes() -> None:
    state = new_workshop()
    participant = join(state, "token-a", "staff")
    seq = state.seq

    resumed, events = decide_join(state, role="staff", token="token-a")

    assert resumed == participant
    assert events == []
    assert state.seq == seq


def test_join_resume_needs_no_role() -> None:
    state = new_workshop()
    participant = join(state, "token-a", "student")

    resumed, events = decide_join(state, role=None, token="token-a")

    assert resumed == participant
    assert events == []


def test_join_resume_keeps_original_role() -> None:
    state = new_workshop()
    participant = join(state, "token-a", "student")

    join(state, "token-a", "staff")

    assert state.participants[participant] == "student"


def test_join_stores_only_token_digest() -> None:
    state = new_workshop()

    _, events = decide_join(state, role="staff", token="secret-token")

    assert "secret-token" not in repr(events)
    assert events[0].token_digest == token_digest("secret-token")


def test_join_without_role_is_rejected() -> None:
    state = new_workshop()

    error = rejection(state, decide_join, role=None, token="token-a")

    assert error.code == "role_required"


def test_join_with_unknown_role_is_rejected() -> None:
    state = new_workshop()

    error = rejection(state, decide_join, role="visitor", token="token-a")

    assert error.code == "unknown_role"
    assert "'visitor'" in error.message
    assert "staff, student" in error.message


# Opening rounds ----------------------------------------------------------------------------


def test_first_round_is_number_one() -> None:
    state = new_workshop()

    events = run(state, decide_open_round, item=LEVELLED, now=100.0)

    assert events == [RoundOpened(round=1, item=LEVELLED, opened_at=100.0)]
    assert state.voting_round is not None
    assert state.voting_round.number == 1


def test_open_round_shows_its_item() -> None:
    state = new_workshop()

    run(state, decide_open_round, item=LEVELLED, now=100.0)

    assert state.current_item == LEVELLED


def test_revote_opens_second_round_keeping_first() -> None:
    state = new_workshop()
    staff = join(state, "token-a", "staff")
    student = join(state, "token-b", "student")
    revealed_round(state, LEVELLED, {staff: 2, student: 4}, now=100.0)
    first_result = state.rounds[0].result

    events = run(state, decide_open_round, item=LEVELLED, now=300.0)

    assert events == [RoundOpened(round=2, item=LEVELLED, opened_at=300.0)]
    assert [round_.number for round_ in state.rounds_for(LEVELLED)] == [1, 2]
    assert state.rounds[0].revealed
    assert state.rounds[0].votes == {staff: 2, student: 4}
    assert state.rounds[0].result == first_result
    assert state.rounds[1].votes == {}
    assert state.rounds[1].result is None


def test_round_numbers_count_across_items() -> None:
    state = new_workshop()
    revealed_round(state, LEVELLED, {}, now=100.0)

    events = run(state, decide_open_round, item=OTHER_LEVELLED, now=300.0)

    assert events == [RoundOpened(round=2, item=OTHER_LEVELLED, opened_at=300.0)]


@pytest.mark.parametrize("item", [LEVELLED, OTHER_LEVELLED])
def test_open_round_while_voting_is_rejected(item: str) -> None:
    state = new_workshop()
    run(state, decide_open_round, item=LEVELLED, now=100.0)

    error = rejection(state, decide_open_round, item=item, now=200.0)

    assert error.code == "round_open"
    assert "Round 1" in error.message


def test_open_round_on_discussion_item_is_rejected() -> None:
    state = new_workshop()

    error = rejection(state, decide_open_round, item=DISCUSSION, now=100.0)

    assert error.code == "discussion_item"
    assert "record notes" in error.message


@pytest.mark.parametrize("item", [NOT_ON_AGENDA, "no-such-principle"])
def test_open_round_off_agenda_is_rejected(item: str) -> None:
    state = new_workshop()

    error = rejection(state, decide_open_round, item=item, now=100.0)

    assert error.code == "unknown_item"
    assert repr(item) in error.message
    assert ", ".join(AGENDA) in error.message


# Voting ------------------------------------------------------------------------------------


def test_vote_is_cast_in_open_round() -> None:
    state = new_workshop()
    staff = join(state, "token-a", "staff")
    run(state, decide_open_round, item=LEVELLED, now=100.0)

    events = run(state, decide_vote, participant=staff, round_number=1, level=3)

    assert events == [VoteCast(round=1, participant=staff, level=3)]
    assert state.rounds[0].votes == {staff: 3}


def test_vote_change_keeps_one_vote_per_participant() -> None:
    state = new_workshop()
    staff = join(state, "token-a", "staff")
    run(state, decide_open_round, item=LEVELLED, now=100.0)
    run(state, decide_vote, participant=staff, round_number=1, level=3)

    events = run(state, decide_vote, participant=staff, round_number=1, level=5)

    assert events == [VoteCast(round=1, participant=staff, level=5)]
    assert state.rounds[0].votes == {staff: 5}


@pytest.mark.parametrize("level", [3, None])
def test_same_vote_twice_produces_no_event(level: int | None) -> None:
    state = new_workshop()
    staff = join(state, "token-a", "staff")
    run(state, decide_open_round, item=LEVELLED, now=100.0)
    run(state, decide_vote, participant=staff, round_number=1, level=level)
    seq = state.seq

    events = run(state, decide_vote, participant=staff, round_number=1, level=level)

    assert events == []
    assert state.seq == seq


def test_not_sure_vote_is_level_none() -> None:
    state = new_workshop()
    student = join(state, "token-a", "student")
    run(state, decide_open_round, item=LEVELLED, now=100.0)

    events = run(state, decide_vote, participant=student, round_number=1, level=None)

    assert events == [VoteCast(round=1, participant=student, level=None)]
    assert state.rounds[0].votes == {student: None}


def test_vote_change_to_not_sure() -> None:
    state = new_workshop()
    student = join(state, "token-a", "student")
    run(state, decide_open_round, item=LEVELLED, now=100.0)
    run(state, decide_vote, participant=student, round_number=1, level=2)

    events = run(state, decide_vote, participant=student, round_number=1, level=None)

    assert events == [VoteCast(round=1, participant=student, level=None)]


@pytest.mark.parametrize("level", [1, 5])
def test_vote_at_level_bounds_is_accepted(level: int) -> None:
    state = new_workshop()
    staff = join(state, "token-a", "staff")
    run(state, decide_open_round, item=LEVELLED, now=100.0)

    events = run(state, decide_vote, participant=staff, round_number=1, level=level)

    assert events == [VoteCast(round=1, participant=staff, level=level)]


@pytest.mark.parametrize("level", [0, 6, -1, 100])
def test_vote_level_out_of_range_is_rejected(level: int) -> None:
    state = new_workshop()
    staff = join(state, "token-a", "staff")
    run(state, decide_open_round, item=LEVELLED, now=100.0)

    error = rejection(state, decide_vote, participant=staff, round_number=1, level=level)

    assert error.code == "invalid_level"
    assert f"Level {level}" in error.message
    assert "1 to 5" in error.message


def test_vote_after_reveal_is_rejected() -> None:
    state = new_workshop()
    staff = join(state, "token-a", "staff")
    revealed_round(state, LEVELLED, {staff: 2}, now=100.0)

    error = rejection(state, decide_vote, participant=staff, round_number=1, level=4)

    assert error.code == "round_revealed"
    assert "wait for the facilitator to open a new round" in error.message
    assert state.rounds[0].votes == {staff: 2}


def test_vote_in_older_round_is_closed() -> None:
    # Round 1 is revealed and round 2 is voting, so the rejection should point the phone
    # to round 2, not ask it to wait for a new round that is already open.
    state = new_workshop()
    staff = join(state, "token-a", "staff")
    revealed_round(state, LEVELLED, {staff: 2}, now=100.0)
    run(state, decide_open_round, item=LEVELLED, now=300.0)

    error = rejection(state, decide_vote, participant=staff, round_number=1, level=4)

    assert error.code == "round_closed"
    assert "vote in the current round" in error.message


@pytest.mark.parametrize("round_number", [0, 2, -1])
def test_vote_in_unknown_round_is_rejected(round_number: int) -> None:
    state = new_workshop()
    staff = join(state, "token-a", "staff")
    run(state, decide_open_round, item=LEVELLED, now=100.0)

    error = rejection(state, decide_vote, participant=staff, round_number=round_number, level=3)

    assert error.code == "unknown_round"
    assert f"round {round_number}" in error.message


def test_vote_before_any_round_is_rejected() -> None:
    state = new_workshop()
    staff = join(state, "token-a", "staff")

    error = rejection(state, decide_vote, participant=staff, round_number=1, level=3)

    assert error.code == "unknown_round"


# Revealing ---------------------------------------------------------------------------------


def test_reveal_marks_round_revealed() -> None:
    state = new_workshop()
    run(state, decide_open_round, item=LEVELLED, now=100.0)

    events = run(state, decide_reveal, round_number=1, now=160.0)

    assert events == [RoundRevealed(round=1, revealed_at=160.0)]
    assert state.rounds[0].revealed_at == 160.0
    assert state.voting_round is None


def test_reveal_twice_is_rejected() -> None:
    state = new_workshop()
    run(state, decide_open_round, item=LEVELLED, now=100.0)
    run(state, decide_reveal, round_number=1, now=160.0)

    error = rejection(state, decide_reveal, round_number=1, now=200.0)

    assert error.code == "round_revealed"
    assert state.rounds[0].revealed_at == 160.0


@pytest.mark.parametrize("round_number", [0, 2])
def test_reveal_unknown_round_is_rejected(round_number: int) -> None:
    state = new_workshop()
    run(state, decide_open_round, item=LEVELLED, now=100.0)

    error = rejection(state, decide_reveal, round_number=round_number, now=160.0)

    assert error.code == "unknown_round"


def test_reveal_summarises_each_role() -> None:
    state = new_workshop()
    staff = [join(state, f"staff-{index}", "staff") for index in range(3)]
    students = [join(state, f"student-{index}", "student") for index in range(4)]
    votes = dict(zip(staff + students, [3, 3, 4, 2, 2, 3, None], strict=True))

    revealed_round(state, LEVELLED, votes, now=100.0)

    result = state.rounds[0].result
    assert result is not None
    assert result.roles["staff"] == Distribution(
        counts=[0, 0, 2, 1, 0], not_sure=0, voters=3, median=3.0
    )
    assert result.roles["student"] == Distribution(
        counts=[0, 2, 1, 0, 0], not_sure=1, voters=4, median=2.0
    )
    assert result.room == Distribution(counts=[0, 2, 3, 1, 0], not_sure=1, voters=7, median=3.0)
    assert result.gap == 1.0
    assert result.hidden_roles == []


def test_reveal_counts_not_sure_outside_median() -> None:
    state = new_workshop()
    students = [join(state, f"student-{index}", "student") for index in range(3)]
    votes = dict(zip(students, [1, None, None], strict=True))

    revealed_round(state, LEVELLED, votes, now=100.0)

    result = state.rounds[0].result
    assert result is not None
    assert result.roles["student"].not_sure == 2
    assert result.roles["student"].voters == 3
    assert result.roles["student"].median == 1.0


def test_reveal_uses_latest_vote_per_participant() -> None:
    state = new_workshop()
    staff = join(state, "token-a", "staff")
    run(state, decide_open_round, item=LEVELLED, now=100.0)
    run(state, decide_vote, participant=staff, round_number=1, level=1)
    run(state, decide_vote, participant=staff, round_number=1, level=5)

    run(state, decide_reveal, round_number=1, now=160.0)

    result = state.rounds[0].result
    assert result is not None
    assert result.roles["staff"].counts == [0, 0, 0, 0, 1]


def test_reveal_hides_small_group() -> None:
    state = new_workshop(small_group_threshold=3)
    staff = join(state, "token-a", "staff")
    students = [join(state, f"student-{index}", "student") for index in range(3)]
    votes = {staff: 5, **dict.fromkeys(students, 2)}

    revealed_round(state, LEVELLED, votes, now=100.0)

    result = state.rounds[0].result
    assert result is not None
    assert result.hidden_roles == ["staff"]
    assert "staff" not in result.roles
    assert result.room.counts == [0, 3, 0, 0, 1]


# Recording agreements ----------------------------------------------------------------------


def test_record_levelled_item_with_level() -> None:
    state = new_workshop()

    events = run(state, decide_record, item=LEVELLED, level=3, notes="Agreed.", now=500.0)

    assert events == [AgreementRecorded(item=LEVELLED, level=3, notes="Agreed.", recorded_at=500.0)]
    assert state.agreements[LEVELLED].level == 3
    assert state.agreements[LEVELLED].notes == "Agreed."


def test_record_discussion_item_with_notes_only() -> None:
    state = new_workshop()

    events = run(
        state, decide_record, item=DISCUSSION, level=None, notes="Trust is good.", now=500.0
    )

    assert events == [
        AgreementRecorded(item=DISCUSSION, level=None, notes="Trust is good.", recorded_at=500.0)
    ]
    assert state.agreements[DISCUSSION].level is None


def test_record_discussion_item_with_level_is_rejected() -> None:
    state = new_workshop()

    error = rejection(state, decide_record, item=DISCUSSION, level=3, notes="", now=500.0)

    assert error.code == "discussion_item"
    assert "no level" in error.message


@pytest.mark.parametrize("level", [0, 6])
def test_record_level_out_of_range_is_rejected(level: int) -> None:
    state = new_workshop()

    error = rejection(state, decide_record, item=LEVELLED, level=level, notes="", now=500.0)

    assert error.code == "invalid_level"


def test_record_off_agenda_is_rejected() -> None:
    state = new_workshop()

    error = rejection(state, decide_record, item=NOT_ON_AGENDA, level=3, notes="", now=500.0)

    assert error.code == "unknown_item"


def test_record_while_item_is_voting_is_rejected() -> None:
    state = new_workshop()
    run(state, decide_open_round, item=LEVELLED, now=100.0)

    error = rejection(state, decide_record, item=LEVELLED, level=3, notes="", now=500.0)

    assert error.code == "round_open"
    assert "reveal it before recording" in error.message


def test_record_other_item_while_voting_is_accepted() -> None:
    state = new_workshop()
    run(state, decide_open_round, item=LEVELLED, now=100.0)

    events = run(state, decide_record, item=OTHER_LEVELLED, level=2, notes="", now=500.0)

    assert len(events) == 1
    assert state.agreements[OTHER_LEVELLED].level == 2


def test_record_again_replaces_agreement() -> None:
    state = new_workshop()
    run(state, decide_record, item=LEVELLED, level=2, notes="First try.", now=500.0)

    run(state, decide_record, item=LEVELLED, level=4, notes="Corrected.", now=600.0)

    agreement = state.agreements[LEVELLED]
    assert agreement.level == 4
    assert agreement.notes == "Corrected."
    assert agreement.recorded_at == 600.0
    assert list(state.agreements) == [LEVELLED]


def test_record_notes_at_limit_is_accepted() -> None:
    state = new_workshop()
    notes = "x" * MAX_NOTES_LENGTH

    run(state, decide_record, item=LEVELLED, level=3, notes=notes, now=500.0)

    assert state.agreements[LEVELLED].notes == notes


def test_record_notes_over_limit_is_rejected() -> None:
    state = new_workshop()
    notes = "x" * (MAX_NOTES_LENGTH + 1)

    error = rejection(state, decide_record, item=LEVELLED, level=3, notes=notes, now=500.0)

    assert MAX_NOTES_LENGTH == 20_000
    assert error.code == "notes_too_long"
    assert "20001" in error.message
    assert "20000" in error.message


@pytest.mark.parametrize(
    "notes",
    [
        "Line one\nLine two\r\nLine three\n",
        "Great work 👍🏽 — 👩‍👩‍👧 family emoji",
        "מרכז התמיכה נגיש בערב (evening) مركز الدعم",
        "\u202eright-to-left override\u202c and \u200fmark",
        "  leading and trailing spaces  ",
        "",
    ],
    ids=["newlines", "emoji", "rtl", "bidi-controls", "spaces", "empty"],
)
def test_record_keeps_notes_exactly(notes: str) -> None:
    state = new_workshop()

    run(state, decide_record, item=DISCUSSION, level=None, notes=notes, now=500.0)

    assert state.agreements[DISCUSSION].notes == notes


# Showing an item ---------------------------------------------------------------------------


def test_show_item_changes_current_item() -> None:
    state = new_workshop()

    events = run(state, decide_show_item, item=DISCUSSION)

    assert events == [CurrentItemChanged(item=DISCUSSION)]
    assert state.current_item == DISCUSSION


def test_show_current_item_produces_no_event() -> None:
    state = new_workshop()
    run(state, decide_show_item, item=DISCUSSION)

    events = run(state, decide_show_item, item=DISCUSSION)

    assert events == []


def test_show_other_item_while_voting_is_rejected() -> None:
    state = new_workshop()
    run(state, decide_open_round, item=LEVELLED, now=100.0)

    error = rejection(state, decide_show_item, item=OTHER_LEVELLED)

    assert error.code == "round_open"
    assert state.current_item == LEVELLED


def test_show_item_after_reveal_is_accepted() -> None:
    state = new_workshop()
    revealed_round(state, LEVELLED, {}, now=100.0)

    run(state, decide_show_item, item=DISCUSSION)

    assert state.current_item == DISCUSSION


def test_show_item_off_agenda_is_rejected() -> None:
    state = new_workshop()

    error = rejection(state, decide_show_item, item=NOT_ON_AGENDA)

    assert error.code == "unknown_item"


# Folding and rejections --------------------------------------------------------------------


def build_sample_workshop() -> tuple[WorkshopState, list[Event]]:
    """Run a short workshop and return its state with its whole event log."""
    state = new_workshop()
    log: list[Event] = [state.created]

    def step(decide: Callable[..., list[Event]], **command: Any) -> None:
        log.extend(run(state, decide, **command))

    participants = []
    for token, role in [("a", "staff"), ("b", "staff"), ("c", "student"), ("d", "student")]:
        participant, events = decide_join(state, role=role, token=token)
        for event in events:
            apply(state, event)
        log.extend(events)
        participants.append(participant)

    step(decide_show_item, item=LEVELLED)
    step(decide_open_round, item=LEVELLED, now=100.0)
    for participant, level in zip(participants, [2, 3, None, 1], strict=True):
        step(decide_vote, participant=participant, round_number=1, level=level)
    step(decide_vote, participant=participants[3], round_number=1, level=2)
    step(decide_reveal, round_number=1, now=160.0)
    step(decide_open_round, item=LEVELLED, now=200.0)
    step(decide_vote, participant=participants[0], round_number=2, level=3)
    step(decide_reveal, round_number=2, now=260.0)
    step(decide_record, item=LEVELLED, level=3, notes="Settled on 3.", now=300.0)
    step(decide_record, item=DISCUSSION, level=None, notes="Talked it through.", now=400.0)
    step(decide_open_round, item=OTHER_LEVELLED, now=500.0)
    step(decide_vote, participant=participants[1], round_number=3, level=4)
    return state, log


def test_fold_matches_incremental_state() -> None:
    state, log = build_sample_workshop()

    folded = fold(log)

    assert folded == state
    assert folded.seq == len(log)


def test_fold_rejects_log_without_creation() -> None:
    _, log = build_sample_workshop()

    with pytest.raises(ValueError, match="WorkshopCreated"):
        fold(log[1:])


def test_apply_rejects_second_creation() -> None:
    state, log = build_sample_workshop()

    with pytest.raises(ValueError, match="WorkshopCreated"):
        apply(state, log[0])


REJECTED_COMMANDS: list[tuple[str, Callable[..., Any], dict[str, Any]]] = [
    ("join-unknown-role", decide_join, {"role": "visitor", "token": "new"}),
    ("join-without-role", decide_join, {"role": None, "token": "new"}),
    ("open-while-voting", decide_open_round, {"item": LEVELLED, "now": 900.0}),
    ("open-discussion", decide_open_round, {"item": DISCUSSION, "now": 900.0}),
    ("vote-out-of-range", decide_vote, {"participant": "p1", "round_number": 3, "level": 9}),
    ("vote-revealed", decide_vote, {"participant": "p1", "round_number": 1, "level": 4}),
    ("vote-unknown-round", decide_vote, {"participant": "p1", "round_number": 7, "level": 4}),
    ("reveal-twice", decide_reveal, {"round_number": 2, "now": 900.0}),
    (
        "record-voting-item",
        decide_record,
        {"item": OTHER_LEVELLED, "level": 2, "notes": "", "now": 900.0},
    ),
    (
        "record-long-notes",
        decide_record,
        {"item": LEVELLED, "level": 2, "notes": "x" * 20_001, "now": 900.0},
    ),
    ("show-while-voting", decide_show_item, {"item": DISCUSSION}),
]


@pytest.mark.parametrize(
    ("decide", "command"),
    [(decide, command) for _, decide, command in REJECTED_COMMANDS],
    ids=[name for name, _, _ in REJECTED_COMMANDS],
)
def test_rejected_command_changes_nothing(
    decide: Callable[..., Any], command: dict[str, Any]
) -> None:
    state, _ = build_sample_workshop()
    before = copy.deepcopy(state)

    with pytest.raises(CommandRejected):
        decide(state, **command)

    assert state.seq == before.seq
    assert state == before
