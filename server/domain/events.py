"""Events of a workshop's log, and the limits that commands check."""

from __future__ import annotations

from typing import Annotated

import msgspec

from server.rubric import Rubric

__all__ = (
    "Scope",
    "SCOPES",
    "MAX_NOTES_LENGTH",
    "MAX_ACTIONS_LENGTH",
    "MAX_OWNER_LENGTH",
    "ASPECT_SEPARATOR",
    "WorkshopCreated",
    "ParticipantJoined",
    "CurrentItemChanged",
    "RoundOpened",
    "VoteCast",
    "RoundRevealed",
    "AgreementRecorded",
    "PrioritySet",
    "PriorityCleared",
    "Event",
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
