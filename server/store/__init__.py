"""Event stores: the durable log of every workshop's events.

The interface is small on purpose so that the embedded SQLite store and the Redis
store pass one contract suite. The store numbers each workshop's events from 1 and
decides their order; a guard on the latest round makes a vote that races a reveal,
or two facilitators opening a round at once, fail atomically instead of landing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

__all__ = (
    "EventStore",
    "EventsListener",
    "JoinCodeTaken",
    "RoundChanged",
    "StoreUnavailable",
)

EventsListener = Callable[[str, int, list[bytes] | None], None]
"""Called with a workshop id, the sequence number of its last stored event and the
events that end there, or ``None`` when the listener must read them from the store."""


class JoinCodeTaken(Exception):
    """A new workshop asked for a join code that an existing workshop holds."""


class RoundChanged(Exception):
    """An append whose expected round marker no longer matches; nothing was stored."""

    def __init__(self, marker: str) -> None:
        super().__init__(f"the latest round is now {marker!r}")
        self.marker = marker


class StoreUnavailable(Exception):
    """The store cannot be reached or written; nothing was stored."""


class EventStore(Protocol):
    """A per-workshop, append-only log of encoded events numbered from 1."""

    listener: EventsListener | None
    """Told about every append that commits, in order, from this process or another."""
    reconnected: Callable[[], None] | None
    """Called when the store is reachable again after ``disconnected``; it may have
    missed telling the listener about appends meanwhile."""
    disconnected: Callable[[], None] | None
    """Called when the store stops being reachable."""
    removed: Callable[[str], None] | None
    """Called with the id of a workshop deleted by this process or another."""
    missed: Callable[[], None] | None
    """Called when notices of appends may have been lost, so the listener's workshops
    must be read again."""

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def check(self) -> None:
        """Raise :class:`StoreUnavailable` unless the store can be used right now."""

    async def create(self, workshop_id: str, join_code: str, first_event: bytes) -> None:
        """Start a workshop's log with its creation event.

        Raises:
            JoinCodeTaken: when another workshop has ``join_code``.
        """

    async def append(
        self,
        workshop_id: str,
        events: list[bytes],
        *,
        expect_round: str | None = None,
        set_round: str | None = None,
    ) -> int:
        """Store ``events`` atomically after the log's last event and return the last seq.

        Returns only once the events are durable.

        Args:
            workshop_id: an existing workshop.
            events: encoded events, stored in this order.
            expect_round: when given, the workshop's round marker must equal it.
            set_round: when given, the round marker becomes this.

        Raises:
            RoundChanged: when ``expect_round`` does not match; nothing is stored.
            StoreUnavailable: when the store could not commit, or the workshop is unknown.
        """

    async def read(self, workshop_id: str, after: int = 0) -> list[bytes]:
        """Return the workshop's events with sequence numbers above ``after``, in order."""

    async def delete(self, workshop_id: str) -> None:
        """Delete a workshop, its join code and all its events; unknown ids are ignored."""

    async def find_by_code(self, join_code: str) -> str | None:
        """Return the id of the workshop holding ``join_code``, if any."""

    async def workshop_ids(self) -> list[str]:
        """Return the ids of every stored workshop."""

    async def save_rubric(self, rubric_id: str, source: bytes) -> bool:
        """Store an uploaded rubric's TOML text durably, unless ``rubric_id`` is taken.

        Returns whether it was stored; an id already stored keeps its text.
        """

    async def rubric_ids(self) -> list[str]:
        """Return the ids of every uploaded rubric, sorted."""

    async def rubric_source(self, rubric_id: str) -> bytes | None:
        """Return an uploaded rubric's TOML text, or ``None`` for an unknown id."""
