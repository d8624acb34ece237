"""The embedded event store: one SQLite file in WAL mode, with group commit.

All database work runs on one dedicated thread. Appends queue up while a commit is in
progress and the next commit stores all of them in one transaction, so a burst of
votes costs one fsync rather than one each; every caller is released only after the
transaction holding its events has committed.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from server.store import JoinCodeTaken, SequenceConflict, StoreUnavailable

__all__ = ("SqliteEventStore",)

logger = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS workshops (
    id TEXT PRIMARY KEY,
    join_code TEXT NOT NULL UNIQUE
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (
    workshop_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    payload BLOB NOT NULL,
    PRIMARY KEY (workshop_id, seq)
) WITHOUT ROWID;
"""

_Append = tuple[str, int, list[bytes], "asyncio.Future[None]"]


class SqliteEventStore:
    """Event store in a SQLite database file."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-store")
        self._connection: sqlite3.Connection | None = None
        self._pending: list[_Append] = []
        self._wake = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None

    async def open(self) -> None:
        await self._run(self._connect)
        self._writer = asyncio.create_task(self._write_batches(), name="sqlite-group-commit")

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.cancel()
            try:
                await self._writer
            except asyncio.CancelledError:
                pass
        for _, _, _, future in self._pending:
            if not future.done():
                future.set_exception(StoreUnavailable("the store is closing"))
        self._pending = []
        await self._run(self._disconnect)
        self._executor.shutdown(wait=True)

    async def create(self, workshop_id: str, join_code: str, first_event: bytes) -> None:
        await self._run(self._insert_workshop, workshop_id, join_code, first_event)

    async def append(self, workshop_id: str, first_seq: int, events: list[bytes]) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((workshop_id, first_seq, events, future))
        self._wake.set()
        await future

    async def read(self, workshop_id: str, after: int = 0) -> list[bytes]:
        return await self._run(self._select_events, workshop_id, after)

    async def find_by_code(self, join_code: str) -> str | None:
        return await self._run(self._select_by_code, join_code)

    async def workshop_ids(self) -> list[str]:
        return await self._run(self._select_ids)

    async def _run(self, function, *args):  # type: ignore[no-untyped-def]
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, function, *args)

    async def _write_batches(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch, self._pending = self._pending, []
            if not batch:
                continue
            try:
                outcomes = await self._run(self._commit, [item[:3] for item in batch])
            except sqlite3.Error as error:
                logger.error("group commit of %d appends failed: %s", len(batch), error)
                outcomes = [StoreUnavailable(f"the event store could not commit: {error}")] * len(
                    batch
                )
            for (_, _, _, future), outcome in zip(batch, outcomes, strict=True):
                if future.done():
                    continue
                if outcome is None:
                    future.set_result(None)
                else:
                    future.set_exception(outcome)

    # The methods below run on the store's own thread only.

    def _connect(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        connection.execute("PRAGMA journal_mode=WAL")
        # FULL syncs the WAL at every commit, so a committed event survives power loss.
        connection.execute("PRAGMA synchronous=FULL")
        connection.execute("PRAGMA busy_timeout=5000")
        connection.executescript(_SCHEMA)
        self._connection = connection

    def _disconnect(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _db(self) -> sqlite3.Connection:
        if self._connection is None:
            raise StoreUnavailable("the event store is not open")
        return self._connection

    def _insert_workshop(self, workshop_id: str, join_code: str, first_event: bytes) -> None:
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute(
                "INSERT INTO workshops (id, join_code) VALUES (?, ?)", (workshop_id, join_code)
            )
            db.execute(
                "INSERT INTO events (workshop_id, seq, payload) VALUES (?, 1, ?)",
                (workshop_id, first_event),
            )
        except sqlite3.IntegrityError:
            db.execute("ROLLBACK")
            raise JoinCodeTaken(join_code) from None
        db.execute("COMMIT")

    def _commit(self, batch: list[tuple[str, int, list[bytes]]]) -> list[Exception | None]:
        db = self._db()
        outcomes: list[Exception | None] = []
        db.execute("BEGIN IMMEDIATE")
        try:
            for workshop_id, first_seq, events in batch:
                outcomes.append(self._append_one(db, workshop_id, first_seq, events))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return outcomes

    @staticmethod
    def _append_one(
        db: sqlite3.Connection, workshop_id: str, first_seq: int, events: list[bytes]
    ) -> Exception | None:
        (last,) = db.execute(
            "SELECT coalesce(max(seq), 0) FROM events WHERE workshop_id = ?", (workshop_id,)
        ).fetchone()
        if last == 0:
            return SequenceConflict(f"workshop {workshop_id} does not exist")
        if first_seq != last + 1:
            return SequenceConflict(
                f"workshop {workshop_id}: append at {first_seq}, but the log ends at {last}"
            )
        db.executemany(
            "INSERT INTO events (workshop_id, seq, payload) VALUES (?, ?, ?)",
            [(workshop_id, first_seq + offset, event) for offset, event in enumerate(events)],
        )
        return None

    def _select_events(self, workshop_id: str, after: int) -> list[bytes]:
        rows = self._db().execute(
            "SELECT payload FROM events WHERE workshop_id = ? AND seq > ? ORDER BY seq",
            (workshop_id, after),
        )
        return [row[0] for row in rows]

    def _select_by_code(self, join_code: str) -> str | None:
        row = self._db().execute("SELECT id FROM workshops WHERE join_code = ?", (join_code,))
        found = row.fetchone()
        return found[0] if found else None

    def _select_ids(self) -> list[str]:
        return [row[0] for row in self._db().execute("SELECT id FROM workshops ORDER BY id")]
