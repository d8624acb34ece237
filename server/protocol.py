"""Websocket messages in both directions, as msgspec tagged unions.

Every message is a JSON object whose ``type`` field names it. A client first sends
one of ``join`` (a phone), ``watch`` (a projector) or ``control`` (a facilitator);
the server answers ``welcome`` and then pushes views as the workshop changes. Any
client message may carry ``ref``, an integer the server echoes in the ``ack`` or
``error`` that answers it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from server.views import ConsoleView, RoomView

__all__ = (
    "ClientMessage",
    "ServerMessage",
    "decode_client_message",
    "encode",
    "protocol_schema",
    "salvage_ref",
)

Ref = Annotated[int, msgspec.Meta(ge=0, le=2**53)] | None
Token = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]{22,128}$")]
Code = Annotated[str, msgspec.Meta(min_length=1, max_length=32)]
Item = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
"""A principle id, or ``<principle id>/<aspect id>`` for one aspect of a principle."""
RoundNumber = Annotated[int, msgspec.Meta(ge=1)]
LevelChoice = Annotated[int, msgspec.Meta(ge=1, le=20)] | None
Notes = Annotated[str, msgspec.Meta(max_length=20_000)]


class _ClientMessage(msgspec.Struct, tag_field="type", forbid_unknown_fields=True, kw_only=True):
    ref: Ref = None
    """Echoed in the ``ack`` or ``error`` sent in response to this message."""


class Join(_ClientMessage, tag="join"):
    """Join a workshop from a phone, or resume as the participant holding ``token``."""

    code: Code
    """The join code shown on the projector; case and spaces are ignored."""
    role: str | None = None
    """A role id from the rubric; needed only the first time a token joins."""
    token: Token | None = None
    """A secret the phone keeps to resume as the same participant; the server makes one
    when it is missing and returns it in ``welcome``."""


class Watch(_ClientMessage, tag="watch"):
    """Follow a workshop as a projector."""

    workshop: Code


class Control(_ClientMessage, tag="control"):
    """Take control of a workshop with its facilitator token."""

    workshop: Code
    token: Token


class Vote(_ClientMessage, tag="vote"):
    """Place the current principle at a level, or ``null`` for "not sure"."""

    round: RoundNumber
    level: LevelChoice


class ShowItem(_ClientMessage, tag="show_item"):
    """Facilitator: put an agenda item on every screen without opening a vote."""

    item: Item


class OpenRound(_ClientMessage, tag="open_round"):
    """Facilitator: open a round of votes on an agenda item; a second one is a re-vote."""

    item: Item


class Reveal(_ClientMessage, tag="reveal"):
    """Facilitator: close a round and show its results."""

    round: RoundNumber


class Record(_ClientMessage, tag="record"):
    """Facilitator: record the agreed level and notes for an item; a later record replaces it."""

    item: Item
    level: LevelChoice
    """The agreed level, or ``null`` for a discussion item or when none was agreed."""
    notes: Notes = ""


class SetPriority(_ClientMessage, tag="set_priority"):
    """Facilitator: mark a principle as a priority, or change its target, actions or owners."""

    item: Item
    target_level: LevelChoice
    """The level to reach, above the agreed level; ``null`` for none or a discussion item."""
    actions: Annotated[str, msgspec.Meta(max_length=4000)] = ""
    staff_owner: Annotated[str, msgspec.Meta(max_length=120)] = ""
    """The staff-side owner of the actions as the facilitator types it, e.g. a job title."""
    student_owner: Annotated[str, msgspec.Meta(max_length=120)] = ""
    """The student-side owner of the actions, e.g. "Course rep"."""


class ClearPriority(_ClientMessage, tag="clear_priority"):
    """Facilitator: remove a principle from the priorities."""

    item: Item


ClientMessage = (
    Join
    | Watch
    | Control
    | Vote
    | ShowItem
    | OpenRound
    | Reveal
    | Record
    | SetPriority
    | ClearPriority
)


class _ServerMessage(msgspec.Struct, tag_field="type", kw_only=True):
    pass


class Welcome(_ServerMessage, tag="welcome"):
    """The server accepted ``join``, ``watch`` or ``control``."""

    client: Literal["participant", "projector", "facilitator"]
    workshop: str
    join_url: str
    participant_token: str | None = None
    """Participants only: keep it and send it in ``join`` to resume after a reconnect."""
    role: str | None = None


class Room(_ServerMessage, tag="room"):
    """The latest room view, sent to projectors and phones after every change."""

    view: RoomView


class Console(_ServerMessage, tag="console"):
    """The latest console view, sent to facilitators after every change."""

    view: ConsoleView


class YourVote(_ServerMessage, tag="your_vote"):
    """A participant's own vote in the latest round, sent only to that participant."""

    round: int | None
    voted: bool
    level: int | None
    """The chosen level, or ``null`` for "not sure" or when not voted."""


class Ack(_ServerMessage, tag="ack"):
    """The command with this ``ref`` is stored."""

    ref: int | None
    seq: int
    """Sequence number of the workshop's last stored event."""


class Error(_ServerMessage, tag="error"):
    """A message was rejected and nothing changed."""

    ref: int | None
    code: str
    """A stable identifier such as ``invalid_message`` or ``round_revealed``."""
    message: str
    """A sentence for people, saying what was wrong and what to do."""


class Status(_ServerMessage, tag="status"):
    """Whether changes can be saved right now; sent to everyone when that changes."""

    store: Literal["ok", "paused"]
    message: str


class Ping(_ServerMessage, tag="ping"):
    """Sent every few seconds of silence so clients can tell a dead connection."""


ServerMessage = Welcome | Room | Console | YourVote | Ack | Error | Status | Ping

_decoder = msgspec.json.Decoder(ClientMessage)
_encoder = msgspec.json.Encoder()


class _RefOnly(msgspec.Struct):
    ref: int | None = None


_ref_decoder = msgspec.json.Decoder(_RefOnly)


def decode_client_message(data: str | bytes) -> ClientMessage:
    """Decode one client frame; raises ``msgspec.DecodeError`` naming the bad field."""
    return _decoder.decode(data)


def salvage_ref(data: str | bytes) -> int | None:
    """Return the ``ref`` of a frame that failed to decode, when it has a usable one."""
    try:
        ref = _ref_decoder.decode(data).ref
    except msgspec.DecodeError:
        return None
    return ref if ref is not None and 0 <= ref <= 2**53 else None


def encode(message: ServerMessage) -> str:
    """Encode a server message as the text of one websocket frame."""
    return _encoder.encode(message).decode()


def protocol_schema() -> dict[str, Any]:
    """Return the JSON Schema of both message unions, generated from the Structs."""
    (client, server), components = msgspec.json.schema_components(
        [ClientMessage, ServerMessage], ref_template="#/$defs/{name}"
    )
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Common Ground websocket protocol",
        "$defs": components,
        "properties": {"client_message": client, "server_message": server},
    }
