"""The state a workshop's events fold into, and the guard its appends carry."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from server.domain.events import (
    ASPECT_SEPARATOR,
    AgreementRecorded,
    CurrentItemChanged,
    Event,
    ParticipantJoined,
    PriorityCleared,
    PrioritySet,
    RoundOpened,
    RoundRevealed,
    VoteCast,
    WorkshopCreated,
)
from server.rubric import Principle, Rubric
from server.stats import RoundResult, summarise_round

__all__ = (
    "Round",
    "Agreement",
    "Priority",
    "WorkshopState",
    "split_item",
    "token_digest",
    "fold",
    "apply",
    "round_marker",
    "round_guard",
)


@dataclass
class Round:
    number: int
    item: str
    opened_at: float
    votes: dict[str, int | None] = field(default_factory=dict)
    """Latest vote per participant id; never leaves the server."""
    voted_by_role: dict[str, int] = field(default_factory=dict)
    """How many of each role have voted, kept as votes arrive so views need not count."""
    revealed_at: float | None = None
    result: RoundResult | None = None

    @property
    def revealed(self) -> bool:
        return self.revealed_at is not None


@dataclass
class Agreement:
    level: int | None
    notes: str
    recorded_at: float


@dataclass
class Priority:
    """A principle the workshop chose to improve, with its target level and actions."""

    target_level: int | None
    actions: str
    staff_owner: str
    student_owner: str
    set_at: float


@dataclass
class WorkshopState:
    created: WorkshopCreated
    seq: int = 1
    participants: dict[str, str] = field(default_factory=dict)
    """Role per participant id."""
    participant_by_digest: dict[str, str] = field(default_factory=dict)
    rounds: list[Round] = field(default_factory=list)
    current_item: str | None = None
    agreements: dict[str, Agreement] = field(default_factory=dict)
    """Agreement per agenda item id: a principle id, or ``<principle>/<aspect>``."""
    priorities: dict[str, Priority] = field(default_factory=dict)
    """Priority per principle id."""

    @property
    def rubric(self) -> Rubric:
        return self.created.rubric

    @property
    def latest_round(self) -> Round | None:
        return self.rounds[-1] if self.rounds else None

    @property
    def voting_round(self) -> Round | None:
        latest = self.latest_round
        return latest if latest and not latest.revealed else None

    def rounds_for(self, item: str) -> list[Round]:
        return [round_ for round_ in self.rounds if round_.item == item]

    def aspect_levels(self, principle: Principle) -> list[int]:
        """Return the agreed levels recorded for a principle's aspects, in rubric order."""
        levels = []
        for aspect in principle.aspects:
            agreement = self.agreements.get(f"{principle.id}{ASPECT_SEPARATOR}{aspect.id}")
            if agreement is not None and agreement.level is not None:
                levels.append(agreement.level)
        return levels

    def agenda_principles(self) -> list[Principle]:
        principles = []
        for item in self.created.agenda:
            principle = self.rubric.principle(item)
            if principle is not None:
                principles.append(principle)
        return principles


def split_item(item: str) -> tuple[str, str | None]:
    """Split an agenda item id into its principle id and aspect id (``None`` for a principle)."""
    principle_id, separator, aspect_id = item.partition(ASPECT_SEPARATOR)
    return principle_id, aspect_id if separator else None


def token_digest(token: str) -> str:
    """Return the SHA-256 of a secret token; only digests are stored."""
    return hashlib.sha256(token.encode()).hexdigest()


def fold(events: list[Event]) -> WorkshopState:
    """Build a workshop's state from its whole event log."""
    first = events[0]
    if not isinstance(first, WorkshopCreated):
        raise ValueError(f"event log starts with {type(first).__name__}, not WorkshopCreated")
    state = WorkshopState(created=first)
    for event in events[1:]:
        apply(state, event)
    return state


def apply(state: WorkshopState, event: Event) -> None:
    """Apply one event to the state in place and advance its sequence number."""
    state.seq += 1
    match event:
        case ParticipantJoined(participant=participant, role=role, token_digest=digest):
            state.participants[participant] = role
            state.participant_by_digest[digest] = participant
        case CurrentItemChanged(item=item):
            state.current_item = item
        case RoundOpened(round=number, item=item, opened_at=opened_at):
            state.rounds.append(Round(number=number, item=item, opened_at=opened_at))
            state.current_item = item
        case VoteCast(round=number, participant=participant, level=level):
            round_ = state.rounds[number - 1]
            if participant not in round_.votes:
                role = state.participants[participant]
                round_.voted_by_role[role] = round_.voted_by_role.get(role, 0) + 1
            round_.votes[participant] = level
        case RoundRevealed(round=number, revealed_at=revealed_at):
            round_ = state.rounds[number - 1]
            round_.revealed_at = revealed_at
            round_.result = _summarise(state, round_)
        case AgreementRecorded(item=item, level=level, notes=notes, recorded_at=recorded_at):
            state.agreements[item] = Agreement(level=level, notes=notes, recorded_at=recorded_at)
        case PrioritySet(item=item, set_at=set_at):
            state.priorities[item] = Priority(
                target_level=event.target_level,
                actions=event.actions,
                staff_owner=event.staff_owner,
                student_owner=event.student_owner,
                set_at=set_at,
            )
        case PriorityCleared(item=item):
            state.priorities.pop(item, None)
        case WorkshopCreated():
            raise ValueError("a workshop log has exactly one WorkshopCreated event, at the start")


def _summarise(state: WorkshopState, round_: Round) -> RoundResult:
    votes_by_role: dict[str, list[int | None]] = {role.id: [] for role in state.rubric.roles}
    for participant, level in round_.votes.items():
        votes_by_role[state.participants[participant]].append(level)
    return summarise_round(
        votes_by_role,
        level_count=len(state.rubric.levels),
        comparison=state.rubric.comparison,
        small_group_threshold=state.created.small_group_threshold,
    )


def round_marker(state: WorkshopState) -> str:
    """Return a short text naming the latest round and its status, ``""`` before any."""
    latest = state.latest_round
    if latest is None:
        return ""
    return f"{latest.number}:{'revealed' if latest.revealed else 'voting'}"


_UNGUARDED = (ParticipantJoined, PrioritySet, PriorityCleared)


def round_guard(state: WorkshopState, events: list[Event]) -> tuple[str | None, str | None]:
    """Return the round marker the store must still have when it stores ``events``, and
    the marker they set.

    Events decided on ``state`` are only valid while its latest round is as it was: a
    vote must not land after a reveal, and two facilitators must not open or reveal
    the same round twice. Joins and priorities do not depend on rounds, so they carry
    no guard.
    """
    if all(isinstance(event, _UNGUARDED) for event in events):
        return None, None
    new_marker = None
    for event in events:
        if isinstance(event, RoundOpened):
            new_marker = f"{event.round}:voting"
        elif isinstance(event, RoundRevealed):
            new_marker = f"{event.round}:revealed"
    return round_marker(state), new_marker
