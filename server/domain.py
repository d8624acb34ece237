"""The workshop state machine: events, the state they fold into, and command rules.

Each accepted command becomes one or more events; the state is the fold of a
workshop's events in order. The ``decide_*`` functions check a command against the
state and return the events it produces, or raise :class:`CommandRejected` with a
message that says what to do instead. Nothing here does I/O or reads a clock:
callers pass the time in.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Annotated

import msgspec

from server.rubric import Aspect, Principle, Rubric
from server.stats import RoundResult, summarise_round

__all__ = (
    "AgreementRecorded",
    "CommandRejected",
    "CurrentItemChanged",
    "Event",
    "ParticipantJoined",
    "Priority",
    "PriorityCleared",
    "PrioritySet",
    "RoundOpened",
    "RoundRevealed",
    "VoteCast",
    "WorkshopCreated",
    "WorkshopState",
    "apply",
    "fold",
    "round_guard",
    "round_marker",
    "split_item",
    "token_digest",
)

Scope = Annotated[str, msgspec.Meta(pattern="^(course|department|faculty|institution)$")]
SCOPES = ("course", "department", "faculty", "institution")
MAX_NOTES_LENGTH = 20_000
MAX_ACTIONS_LENGTH = 4000
MAX_OWNER_LENGTH = 120
ASPECT_SEPARATOR = "/"
"""Joins a principle id and one of its aspect ids into an agenda item id."""


class _Event(msgspec.Struct, tag_field="type", frozen=True):
    pass


class WorkshopCreated(_Event, tag="workshop_created"):
    workshop_id: str
    title: str
    scope: str
    unit: str
    rubric: Rubric
    """A copy of the rubric as it was at creation, so later edits to the file do not
    change a past workshop."""
    agenda: list[str]
    join_code: str
    facilitator_digest: str
    small_group_threshold: int
    created_at: float


class ParticipantJoined(_Event, tag="participant_joined"):
    participant: str
    role: str
    token_digest: str


class CurrentItemChanged(_Event, tag="current_item_changed"):
    item: str


class RoundOpened(_Event, tag="round_opened"):
    round: int
    item: str
    opened_at: float


class VoteCast(_Event, tag="vote_cast"):
    round: int
    participant: str
    level: int | None


class RoundRevealed(_Event, tag="round_revealed"):
    round: int
    revealed_at: float


class AgreementRecorded(_Event, tag="agreement_recorded"):
    item: str
    level: int | None
    notes: str
    recorded_at: float


class PrioritySet(_Event, tag="priority_set"):
    item: str
    target_level: int | None
    actions: str
    staff_owner: str
    """The staff-side owner of the actions, as the facilitator typed it."""
    student_owner: str
    set_at: float


class PriorityCleared(_Event, tag="priority_cleared"):
    item: str


Event = (
    WorkshopCreated
    | ParticipantJoined
    | CurrentItemChanged
    | RoundOpened
    | VoteCast
    | RoundRevealed
    | AgreementRecorded
    | PrioritySet
    | PriorityCleared
)


class CommandRejected(Exception):
    """A command that the state does not allow; the message says why and what to do."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


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


def round_guard(state: WorkshopState, events: list[Event]) -> tuple[str | None, str | None]:
    """Return the round marker the store must still have when it stores ``events``, and
    the marker they set.

    Events decided on ``state`` are only valid while its latest round is as it was: a
    vote must not land after a reveal, and two facilitators must not open or reveal
    the same round twice. Joins and priorities do not depend on rounds, so they carry
    no guard.
    """
    unguarded = ParticipantJoined | PrioritySet | PriorityCleared
    if all(isinstance(event, unguarded) for event in events):
        return None, None
    new_marker = None
    for event in events:
        if isinstance(event, RoundOpened):
            new_marker = f"{event.round}:voting"
        elif isinstance(event, RoundRevealed):
            new_marker = f"{event.round}:revealed"
    return round_marker(state), new_marker


# Commands ----------------------------------------------------------------------------------


def _agenda_principle(state: WorkshopState, item: str) -> Principle:
    if item not in state.created.agenda:
        agenda = ", ".join(state.created.agenda)
        raise CommandRejected(
            "unknown_item", f"{item!r} is not on this workshop's agenda; choose one of: {agenda}"
        )
    principle = state.rubric.principle(item)
    if principle is None:
        raise ValueError(f"agenda item {item!r} is missing from the workshop's rubric copy")
    return principle


def _agenda_item(state: WorkshopState, item: str) -> tuple[Principle, Aspect | None]:
    """Return the principle of an agenda item and, for ``<principle>/<aspect>``, the aspect."""
    principle_id, aspect_id = split_item(item)
    principle = _agenda_principle(state, principle_id)
    if aspect_id is None:
        return principle, None
    aspect = principle.aspect(aspect_id)
    if aspect is None:
        known = ", ".join(f"{principle.id}{ASPECT_SEPARATOR}{a.id}" for a in principle.aspects)
        choices = f"choose one of: {known}" if known else "it has no aspects"
        raise CommandRejected(
            "unknown_item",
            f"{aspect_id!r} is not an aspect of principle {principle.number}; {choices}",
        )
    return principle, aspect


def decide_join(state: WorkshopState, *, role: str | None, token: str) -> tuple[str, list[Event]]:
    """Join a participant, or resume the one that holds ``token``.

    Returns:
        The participant id and the events to store (none when resuming).
    """
    digest = token_digest(token)
    existing = state.participant_by_digest.get(digest)
    if existing is not None:
        return existing, []
    if role is None:
        raise CommandRejected("role_required", "Choose a role before joining.")
    if state.rubric.role(role) is None:
        roles = ", ".join(r.id for r in state.rubric.roles)
        raise CommandRejected("unknown_role", f"Role {role!r} is not one of: {roles}.")
    # The id derives from the token so that joins on two workers at once agree on it.
    participant = digest[:16]
    return participant, [ParticipantJoined(participant=participant, role=role, token_digest=digest)]


def decide_show_item(state: WorkshopState, *, item: str) -> list[Event]:
    """Put an agenda item, or one aspect of it, on the screens without opening a vote."""
    _agenda_item(state, item)
    voting = state.voting_round
    if voting is not None and voting.item != item:
        raise CommandRejected(
            "round_open",
            f"Round {voting.number} is still open for votes; reveal it before moving on.",
        )
    if state.current_item == item:
        return []
    return [CurrentItemChanged(item=item)]


def decide_open_round(state: WorkshopState, *, item: str, now: float) -> list[Event]:
    """Open a new round of votes on an agenda item or one of its aspects (a re-vote if it
    had rounds)."""
    principle, _ = _agenda_item(state, item)
    if not principle.has_levels:
        raise CommandRejected(
            "discussion_item",
            f"Principle {principle.number}, {principle.title!r}, has no levels: "
            "it is a discussion item, so record notes for it instead of opening a vote.",
        )
    voting = state.voting_round
    if voting is not None:
        raise CommandRejected(
            "round_open",
            f"Round {voting.number} is still open for votes; reveal it before opening another.",
        )
    return [RoundOpened(round=len(state.rounds) + 1, item=item, opened_at=now)]


def decide_vote(
    state: WorkshopState, *, participant: str, round_number: int, level: int | None
) -> list[Event]:
    """Record or change a participant's vote in the open round."""
    if not 1 <= round_number <= len(state.rounds):
        raise CommandRejected("unknown_round", f"There is no round {round_number}.")
    round_ = state.rounds[round_number - 1]
    if round_ is not state.latest_round:
        raise CommandRejected(
            "round_closed", f"Round {round_number} is closed; vote in the current round."
        )
    if round_.revealed:
        raise CommandRejected(
            "round_revealed",
            f"Round {round_number} is already revealed, so votes can no longer change; "
            "wait for the facilitator to open a new round.",
        )
    if participant not in state.participants:
        raise CommandRejected("not_joined", "Join the workshop before voting.")
    level_count = len(state.rubric.levels)
    if level is not None and not 1 <= level <= level_count:
        raise CommandRejected(
            "invalid_level",
            f"Level {level} is out of range; choose 1 to {level_count} or not sure.",
        )
    if participant in round_.votes and round_.votes[participant] == level:
        return []
    return [VoteCast(round=round_number, participant=participant, level=level)]


def decide_reveal(state: WorkshopState, *, round_number: int, now: float) -> list[Event]:
    """Reveal the open round's results to everyone."""
    if not 1 <= round_number <= len(state.rounds):
        raise CommandRejected("unknown_round", f"There is no round {round_number}.")
    round_ = state.rounds[round_number - 1]
    if round_.revealed:
        raise CommandRejected("round_revealed", f"Round {round_number} is already revealed.")
    return [RoundRevealed(round=round_number, revealed_at=now)]


def decide_record(
    state: WorkshopState, *, item: str, level: int | None, notes: str, now: float
) -> list[Event]:
    """Record (or correct) the level the room agreed for an item or aspect, with notes."""
    principle, _ = _agenda_item(state, item)
    voting = state.voting_round
    if voting is not None and voting.item == item:
        raise CommandRejected(
            "round_open",
            f"Round {voting.number} on this item is still open; reveal it before recording.",
        )
    level_count = len(state.rubric.levels)
    if not principle.has_levels and level is not None:
        raise CommandRejected(
            "discussion_item",
            f"Principle {principle.number} is a discussion item without levels; "
            "record notes only, with no level.",
        )
    if level is not None and not 1 <= level <= level_count:
        raise CommandRejected(
            "invalid_level", f"Level {level} is out of range; choose 1 to {level_count}."
        )
    if len(notes) > MAX_NOTES_LENGTH:
        raise CommandRejected(
            "notes_too_long",
            f"Notes are {len(notes)} characters long; the limit is {MAX_NOTES_LENGTH}.",
        )
    return [AgreementRecorded(item=item, level=level, notes=notes, recorded_at=now)]


def decide_set_priority(
    state: WorkshopState,
    *,
    item: str,
    target_level: int | None,
    actions: str,
    staff_owner: str,
    student_owner: str,
    now: float,
) -> list[Event]:
    """Mark a principle as a priority, or change its target level, actions or owners.

    The target level must be above the agreed level when one is recorded, because a
    priority is a principle the workshop means to move up.
    """
    if split_item(item)[1] is not None:
        raise CommandRejected(
            "unknown_item",
            f"{item!r} is an aspect; set the priority on its principle, {split_item(item)[0]!r}.",
        )
    principle = _agenda_principle(state, item)
    staff_owner = staff_owner.strip()
    student_owner = student_owner.strip()
    for name, text, limit in (
        ("actions", actions, MAX_ACTIONS_LENGTH),
        ("staff_owner", staff_owner, MAX_OWNER_LENGTH),
        ("student_owner", student_owner, MAX_OWNER_LENGTH),
    ):
        if len(text) > limit:
            raise CommandRejected(
                "text_too_long", f"{name} is {len(text)} characters long; the limit is {limit}."
            )
    if target_level is not None:
        _check_target_level(state, principle, target_level)

    existing = state.priorities.get(item)
    if existing is not None and (
        existing.target_level,
        existing.actions,
        existing.staff_owner,
        existing.student_owner,
    ) == (target_level, actions, staff_owner, student_owner):
        return []
    return [
        PrioritySet(
            item=item,
            target_level=target_level,
            actions=actions,
            staff_owner=staff_owner,
            student_owner=student_owner,
            set_at=now,
        )
    ]


def _check_target_level(state: WorkshopState, principle: Principle, target_level: int) -> None:
    if not principle.has_levels:
        raise CommandRejected(
            "discussion_item",
            f"Principle {principle.number} is a discussion item without levels, so its "
            "priority has no target level; send null.",
        )
    levels = state.rubric.levels
    if not 1 <= target_level <= len(levels):
        raise CommandRejected(
            "invalid_level",
            f"Target level {target_level} is out of range; choose 1 to {len(levels)} or null.",
        )
    # NOTE: priority events carry no round guard, so an agreement that another worker
    # stores at the same moment is not seen by this check.
    agreement = state.agreements.get(principle.id)
    if agreement is not None and agreement.level is not None and target_level <= agreement.level:
        raise CommandRejected(
            "invalid_target",
            f"Target level {target_level} ({levels[target_level - 1]}) is not above the agreed "
            f"level {agreement.level} ({levels[agreement.level - 1]}); choose a higher level, "
            "or null for no target.",
        )


def decide_clear_priority(state: WorkshopState, *, item: str) -> list[Event]:
    """Remove a principle from the priorities."""
    if item not in state.priorities:
        raise CommandRejected("unknown_priority", f"{item!r} is not marked as a priority.")
    return [PriorityCleared(item=item)]
