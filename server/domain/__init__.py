"""The workshop state machine: events, the state they fold into, and command rules.

Each accepted command becomes one or more events; the state is the fold of a
workshop's events in order. The ``decide_*`` functions check a command against the
state and return the events it produces, or raise :class:`CommandRejected` with a
message that states what to do instead. Nothing here does I/O or reads a clock:
callers pass the time in.
"""

from server.domain.commands import (
    CommandRejected,
    decide_clear_priority,
    decide_join,
    decide_open_round,
    decide_record,
    decide_reveal,
    decide_set_priority,
    decide_show_item,
    decide_vote,
)
from server.domain.events import (
    ASPECT_SEPARATOR,
    MAX_ACTIONS_LENGTH,
    MAX_NOTES_LENGTH,
    MAX_OWNER_LENGTH,
    SCOPES,
    AgreementRecorded,
    CurrentItemChanged,
    Event,
    ParticipantJoined,
    PriorityCleared,
    PrioritySet,
    RoundOpened,
    RoundRevealed,
    Scope,
    VoteCast,
    WorkshopCreated,
)
from server.domain.state import (
    Agreement,
    Priority,
    Round,
    WorkshopState,
    apply,
    fold,
    round_guard,
    round_marker,
    split_item,
    token_digest,
)

__all__ = (
    "ASPECT_SEPARATOR",
    "Agreement",
    "AgreementRecorded",
    "CommandRejected",
    "CurrentItemChanged",
    "Event",
    "MAX_ACTIONS_LENGTH",
    "MAX_NOTES_LENGTH",
    "MAX_OWNER_LENGTH",
    "ParticipantJoined",
    "Priority",
    "PriorityCleared",
    "PrioritySet",
    "Round",
    "RoundOpened",
    "RoundRevealed",
    "SCOPES",
    "Scope",
    "VoteCast",
    "WorkshopCreated",
    "WorkshopState",
    "apply",
    "decide_clear_priority",
    "decide_join",
    "decide_open_round",
    "decide_record",
    "decide_reveal",
    "decide_set_priority",
    "decide_show_item",
    "decide_vote",
    "fold",
    "round_guard",
    "round_marker",
    "split_item",
    "token_digest",
)
