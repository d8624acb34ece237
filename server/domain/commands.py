"""Command rules: each ``decide_*`` function checks a command and returns its events."""

from __future__ import annotations

from server.domain.events import (
    ASPECT_SEPARATOR,
    MAX_ACTIONS_LENGTH,
    MAX_NOTES_LENGTH,
    MAX_OWNER_LENGTH,
    AgreementRecorded,
    CurrentItemChanged,
    Event,
    ParticipantJoined,
    PriorityCleared,
    PrioritySet,
    RoundOpened,
    RoundRevealed,
    VoteCast,
)
from server.domain.state import WorkshopState, split_item, token_digest
from server.rubric import Aspect, Principle

__all__ = (
    "CommandRejected",
    "decide_join",
    "decide_show_item",
    "decide_open_round",
    "decide_vote",
    "decide_reveal",
    "decide_record",
    "decide_set_priority",
    "decide_clear_priority",
)


class CommandRejected(Exception):
    """A command that the state does not allow; the message states why and what to do."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


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
    """Join a participant, or resume the one that has ``token``.

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
            "or no target level.",
        )


def decide_clear_priority(state: WorkshopState, *, item: str) -> list[Event]:
    """Remove a principle from the priorities."""
    if item not in state.priorities:
        raise CommandRejected("unknown_priority", f"{item!r} is not marked as a priority.")
    return [PriorityCleared(item=item)]
