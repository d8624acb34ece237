"""The rubrics a workshop can use: the shipped files and the rubrics uploaded to the store.

Rubric files in ``RUBRIC_DIR`` load at start-up. Uploaded rubrics are kept in the event
store, so they survive restarts. With Redis every worker can use a rubric that any of
them accepted, because a worker that does not know a rubric id reads it from the store. A
rubric id is never reused, so a rubric stays as it was uploaded; a workshop keeps its
own copy of its rubric in any case.
"""

from __future__ import annotations

import logging

from server.rubric import Rubric, RubricError, parse_rubric
from server.store import EventStore

__all__ = (
    "MAX_RUBRIC_BYTES",
    "MAX_UPLOADED_RUBRICS",
    "LibraryFull",
    "RubricLibrary",
    "RubricTaken",
)

logger = logging.getLogger(__name__)

MAX_RUBRIC_BYTES = 256 * 1024
"""Largest rubric file accepted for upload; the NUS rubric is about 20 KiB."""
MAX_UPLOADED_RUBRICS = 200


class RubricTaken(Exception):
    """An upload whose rubric id is already used by another rubric."""


class LibraryFull(Exception):
    """An upload when ``MAX_UPLOADED_RUBRICS`` rubrics are stored already."""


class RubricLibrary:
    """Every rubric by id; ``rubrics`` is the live dictionary, shared with the hub."""

    def __init__(self, store: EventStore, shipped: dict[str, Rubric]) -> None:
        self.rubrics: dict[str, Rubric] = dict(shipped)
        self._store = store
        self._shipped = frozenset(shipped)
        self._unusable: set[str] = set()
        """Stored ids that failed to load; each is logged once and then skipped."""

    async def refresh(self) -> None:
        """Load the rubrics uploaded since the last refresh, by this worker or another."""
        for rubric_id in await self._store.rubric_ids():
            if rubric_id in self.rubrics or rubric_id in self._unusable:
                continue
            await self._load(rubric_id)

    async def _load(self, rubric_id: str) -> None:
        source = await self._store.rubric_source(rubric_id)
        if source is None:
            return
        try:
            rubric = parse_rubric(source, source_name=f"uploaded rubric {rubric_id!r}")
        except RubricError as error:
            # The rules may have tightened since it was uploaded; the server still starts.
            logger.error("skipping a stored rubric that is no longer valid: %s", error)
            self._unusable.add(rubric_id)
            return
        self.rubrics[rubric_id] = rubric

    async def get(self, rubric_id: str) -> Rubric | None:
        """Return a rubric by id, reading the store when this worker does not know it."""
        if rubric_id not in self.rubrics and rubric_id not in self._unusable:
            await self._load(rubric_id)
        return self.rubrics.get(rubric_id)

    async def upload(self, source: bytes) -> Rubric:
        """Check a rubric's TOML text and store it.

        Raises:
            RubricError: the text is not a valid rubric; the message names the field.
            RubricTaken: another rubric has its id.
            LibraryFull: ``MAX_UPLOADED_RUBRICS`` are stored already.
            StoreUnavailable: the store could not save it.
        """
        rubric = parse_rubric(source, source_name="uploaded rubric")
        if rubric.id in self._shipped or await self.get(rubric.id) is not None:
            raise RubricTaken(rubric.id)
        if len(await self._store.rubric_ids()) >= MAX_UPLOADED_RUBRICS:
            raise LibraryFull(rubric.id)
        if not await self._store.save_rubric(rubric.id, source):
            raise RubricTaken(rubric.id)
        self.rubrics[rubric.id] = rubric
        logger.info("rubric %s uploaded (%d principles)", rubric.id, len(rubric.principles))
        return rubric
