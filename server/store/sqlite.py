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
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

from server.store import EventsListener, JoinCodeTaken, RoundChanged, StoreUnavailable

__all__ = ("SqliteEventStore",)

logger = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS workshops (
    id TEXT PRIMARY KEY,
    join_code TEXT NOT NULL UNIQUE,
    last_seq INTEGER NOT NULL,
    round_marker TEXT NOT NULL DEFAULT '',
    updated_at REAL NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (
    workshop_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    payload BLOB NOT NULL,
    PRIMARY KEY (workshop_id, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rubrics (
    id TEXT PRIMARY KEY,
    source BLOB NOT NULL,
    uploaded_at REAL NOT NULL
) WITHOUT ROWID;
"""

SCHEMA_VERSION = 1
PURGE_INTERVAL = 3600.0
"""Seconds between two sweeps for workshops idle for longer than the retention period."""


class _Append(NamedTuple):
    workshop_id: str
    events: list[bytes]
    expect_round: str | None
    set_round: str | None
    future: asyncio.Future[int]


class SqliteEventStore:
    """Event store in a SQLite database file."""

    def __init__(self, path: Path, *, retention_seconds: float = 180 * 86400) -> None:
        self._path = path
        self._retention = retention_seconds
        self._purger: asyncio.Task[None] | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-store")
        self._connection: sqlite3.Connection | None = None
        self._pending: list[_Append] = []
        self._wake = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self.listener: EventsListener | None = None
        self.reconnected: Callable[[], None] | None = None
        self.disconnected: Callable[[], None] | None = None
        self.removed: Callable[[str], None] | None = None
        self.missed: Callable[[], None] | None = None
        """Never called: this process makes every append, so no notice is lost."""

    async def open(self) -> None:
        await self._run(self._connect)
        self._writer = asyncio.create_task(self._write_batches(), name="sqlite-group-commit")
        self._purger = asyncio.create_task(self._purge_periodically(), name="sqlite-purge")

    async def close(self) -> None:
        for task in (self._writer, self._purger):
            if task is None:
                continue
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
        for pending in self._pending:
            if not pending.future.done():
                pending.future.set_exception(StoreUnavailable("the store is closing"))
        self._pending = []
        await self._run(self._disconnect)
        self._executor.shutdown(wait=True)

    async def check(self) -> None:
        await self._run(self._probe)

    async def create(self, workshop_id: str, join_code: str, first_event: bytes) -> None:
        await self._run(self._insert_workshop, workshop_id, join_code, first_event)

    async def append(
        self,
        workshop_id: str,
        events: list[bytes],
        *,
        expect_round: str | None = None,
        set_round: str | None = None,
    ) -> int:
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._pending.append(_Append(workshop_id, events, expect_round, set_round, future))
        self._wake.set()
        return await future

    async def read(self, workshop_id: str, after: int = 0) -> list[bytes]:
        return await self._run(self._select_events, workshop_id, after)

    async def delete(self, workshop_id: str) -> None:
        await self._run(self._delete, workshop_id)
        if self.removed is not None:
            self.removed(workshop_id)

    async def find_by_code(self, join_code: str) -> str | None:
        return await self._run(self._select_by_code, join_code)

    async def workshop_ids(self) -> list[str]:
        return await self._run(self._select_ids)

    async def save_rubric(self, rubric_id: str, source: bytes) -> bool:
        return await self._run(self._insert_rubric, rubric_id, source)

    async def rubric_ids(self) -> list[str]:
        return await self._run(self._select_rubric_ids)

    async def rubric_source(self, rubric_id: str) -> bytes | None:
        return await self._run(self._select_rubric, rubric_id)

    async def _run(self, function, *args):  # type: ignore[no-untyped-def]
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, function, *args)

    async def purge_expired(self, now: float) -> int:
        """Delete workshops with no event for the retention period; return how many."""
        return await self._run(self._purge, now - self._retention)

    async def _purge_periodically(self) -> None:
        while True:
            try:
                removed = await self.purge_expired(time.time())
            except sqlite3.Error as error:
                logger.error("removing expired workshops failed: %s", error)
            else:
                if removed:
                    logger.info("removed %d workshops idle for over the retention period", removed)
            await asyncio.sleep(PURGE_INTERVAL)

    async def _write_batches(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch, self._pending = self._pending, []
            if not batch:
                continue
            requests = [(a.workshop_id, a.events, a.expect_round, a.set_round) for a in batch]
            try:
                outcomes = await self._run(self._commit, requests)
            except sqlite3.Error as error:
                logger.error("group commit of %d appends failed: %s", len(batch), error)
                failure = StoreUnavailable(f"the event store could not commit: {error}")
                outcomes = [failure] * len(batch)
            for pending, outcome in zip(batch, outcomes, strict=True):
                if isinstance(outcome, int) and self.listener is not None:
                    self.listener(pending.workshop_id, outcome, pending.events)
            for pending, outcome in zip(batch, outcomes, strict=True):
                if pending.future.done():
                    continue
                if isinstance(outcome, int):
                    pending.future.set_result(outcome)
                else:
                    pending.future.set_exception(outcome)

    # The methods below run on the store's own thread only.

    def _connect(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        connection.execute("PRAGMA journal_mode=WAL")
        # FULL syncs the WAL at every commit, so a committed event survives power loss.
        connection.execute("PRAGMA synchronous=FULL")
        connection.execute("PRAGMA busy_timeout=5000")
        (version,) = connection.execute("PRAGMA user_version").fetchone()
        tables = connection.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'")
        if version != SCHEMA_VERSION and tables.fetchone()[0]:
            connection.close()
            raise StoreUnavailable(
                f"{self._path} was written by a development build (schema version {version}, "
                f"expected {SCHEMA_VERSION}); move it away to start with an empty store"
            )
        connection.executescript(_SCHEMA)
        connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        self._connection = connection

    def _disconnect(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _probe(self) -> None:
        try:
            self._db().execute("SELECT 1 FROM workshops LIMIT 1").fetchall()
        except sqlite3.Error as error:
            raise StoreUnavailable(f"the SQLite store cannot be read: {error}") from error

    def _db(self) -> sqlite3.Connection:
        if self._connection is None:
            raise StoreUnavailable("the event store is not open")
        return self._connection

    def _insert_workshop(self, workshop_id: str, join_code: str, first_event: bytes) -> None:
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute(
                "INSERT INTO workshops (id, join_code, last_seq, updated_at) VALUES (?, ?, 1, ?)",
                (workshop_id, join_code, time.time()),
            )
            db.execute(
                "INSERT INTO events (workshop_id, seq, payload) VALUES (?, 1, ?)",
                (workshop_id, first_event),
            )
        except sqlite3.IntegrityError:
            db.execute("ROLLBACK")
            raise JoinCodeTaken(join_code) from None
        db.execute("COMMIT")

    def _commit(
        self, batch: list[tuple[str, list[bytes], str | None, str | None]]
    ) -> list[int | Exception]:
        db = self._db()
        outcomes: list[int | Exception] = []
        db.execute("BEGIN IMMEDIATE")
        try:
            for request in batch:
                outcomes.append(self._append_one(db, *request))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return outcomes

    @staticmethod
    def _append_one(
        db: sqlite3.Connection,
        workshop_id: str,
        events: list[bytes],
        expect_round: str | None,
        set_round: str | None,
    ) -> int | Exception:
        row = db.execute(
            "SELECT last_seq, round_marker FROM workshops WHERE id = ?", (workshop_id,)
        ).fetchone()
        if row is None:
            return StoreUnavailable(f"workshop {workshop_id} does not exist")
        last_seq, marker = row
        if expect_round is not None and expect_round != marker:
            return RoundChanged(marker)

        db.executemany(
            "INSERT INTO events (workshop_id, seq, payload) VALUES (?, ?, ?)",
            [(workshop_id, last_seq + offset, event) for offset, event in enumerate(events, 1)],
        )
        last_seq += len(events)
        db.execute(
            "UPDATE workshops SET last_seq = ?, round_marker = ?, updated_at = ? WHERE id = ?",
            (last_seq, marker if set_round is None else set_round, time.time(), workshop_id),
        )
        return last_seq

    def _purge(self, cutoff: float) -> int:
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            expired = "SELECT id FROM workshops WHERE updated_at < ?"
            db.execute(f"DELETE FROM events WHERE workshop_id IN ({expired})", (cutoff,))  # noqa: S608
            removed = db.execute("DELETE FROM workshops WHERE updated_at < ?", (cutoff,)).rowcount
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return removed

    def _delete(self, workshop_id: str) -> None:
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute("DELETE FROM events WHERE workshop_id = ?", (workshop_id,))
            db.execute("DELETE FROM workshops WHERE id = ?", (workshop_id,))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

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

    def _insert_rubric(self, rubric_id: str, source: bytes) -> bool:
        inserted = self._db().execute(
            "INSERT OR IGNORE INTO rubrics (id, source, uploaded_at) VALUES (?, ?, ?)",
            (rubric_id, source, time.time()),
        )
        return inserted.rowcount == 1

    def _select_rubric_ids(self) -> list[str]:
        return [row[0] for row in self._db().execute("SELECT id FROM rubrics ORDER BY id")]

    def _select_rubric(self, rubric_id: str) -> bytes | None:
        found = self._db().execute("SELECT source FROM rubrics WHERE id = ?", (rubric_id,))
        row = found.fetchone()
        return bytes(row[0]) if row else None
