"""Event stores: the durable log of every workshop's events.

The interface is small on purpose so that the embedded SQLite store and the Redis
store can be tested by one contract suite.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ("EventStore", "JoinCodeTaken", "SequenceConflict", "StoreUnavailable")


class SequenceConflict(Exception):
    """An append whose first sequence number does not follow the log's last one."""


class JoinCodeTaken(Exception):
    """A new workshop asked for a join code that an existing workshop holds."""


class StoreUnavailable(Exception):
    """The store cannot be reached or written; nothing was stored."""


class EventStore(Protocol):
    """A per-workshop, append-only log of encoded events numbered from 1."""

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def create(self, workshop_id: str, join_code: str, first_event: bytes) -> None:
        """Start a workshop's log with its creation event.

        Raises:
            JoinCodeTaken: when another workshop holds ``join_code``.
        """

    async def append(self, workshop_id: str, first_seq: int, events: list[bytes]) -> None:
        """Store ``events`` as sequence numbers ``first_seq`` onwards, atomically.

        Returns only once the events are durable.

        Raises:
            SequenceConflict: when ``first_seq`` is not one past the log's last event.
            StoreUnavailable: when the store could not commit.
        """

    async def read(self, workshop_id: str, after: int = 0) -> list[bytes]:
        """Return the workshop's events with sequence numbers above ``after``, in order."""

    async def find_by_code(self, join_code: str) -> str | None:
        """Return the id of the workshop holding ``join_code``, if any."""

    async def workshop_ids(self) -> list[str]:
        """Return the ids of every stored workshop."""
