"""One contract for every event store backend, run against real SQLite and Redis."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from redis import asyncio as aioredis

from server.store import EventStore, JoinCodeTaken, RoundChanged, StoreUnavailable
from server.store.redis import MAX_APPENDS_PER_CALL, RedisEventStore
from server.store.sqlite import SqliteEventStore

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


async def _flush_redis() -> None:
    client = aioredis.Redis.from_url(REDIS_URL)
    await client.flushdb()
    await client.aclose()


@pytest_asyncio.fixture(params=["sqlite", "redis"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[EventStore]:
    backend: EventStore
    if request.param == "sqlite":
        backend = SqliteEventStore(tmp_path / "events.sqlite3")
    else:
        await _flush_redis()
        backend = RedisEventStore(REDIS_URL)
    await backend.open()
    yield backend
    await backend.close()


async def test_create_then_read(store: EventStore) -> None:
    await store.create("w1", "ABC234", b"created")

    assert await store.read("w1") == [b"created"]
    assert await store.find_by_code("ABC234") == "w1"
    assert await store.find_by_code("ZZZ999") is None
    assert await store.workshop_ids() == ["w1"]


async def test_join_code_is_never_shared(store: EventStore) -> None:
    await store.create("w1", "ABC234", b"one")

    with pytest.raises(JoinCodeTaken):
        await store.create("w2", "ABC234", b"two")
    assert await store.read("w2") == []
    assert await store.find_by_code("ABC234") == "w1"


async def test_append_numbers_events_in_order(store: EventStore) -> None:
    await store.create("w1", "ABC234", b"e1")

    assert await store.append("w1", [b"e2", b"e3"]) == 3
    assert await store.append("w1", [b"e4"]) == 4
    assert await store.read("w1") == [b"e1", b"e2", b"e3", b"e4"]
    assert await store.read("w1", after=2) == [b"e3", b"e4"]
    assert await store.read("w1", after=4) == []


async def test_append_to_unknown_workshop_fails(store: EventStore) -> None:
    with pytest.raises(StoreUnavailable):
        await store.append("missing", [b"e"])


async def test_round_guard_rejects_stale_marker(store: EventStore) -> None:
    await store.create("w1", "ABC234", b"created")
    await store.append("w1", [b"open 2"], expect_round="", set_round="2:voting")
    await store.append("w1", [b"vote"], expect_round="2:voting")
    await store.append("w1", [b"reveal 2"], expect_round="2:voting", set_round="2:revealed")

    with pytest.raises(RoundChanged) as raised:
        await store.append("w1", [b"late vote"], expect_round="2:voting")
    assert raised.value.marker == "2:revealed"
    assert await store.read("w1") == [b"created", b"open 2", b"vote", b"reveal 2"]


async def test_concurrent_appends_are_gapless(store: EventStore) -> None:
    await store.create("w1", "ABC234", b"e1")

    results = await asyncio.gather(*(store.append("w1", [b"%d" % n]) for n in range(200)))

    assert sorted(results) == list(range(2, 202))
    assert len(await store.read("w1")) == 201


async def test_only_one_concurrent_reveal_wins(store: EventStore) -> None:
    await store.create("w1", "ABC234", b"created")
    await store.append("w1", [b"open"], expect_round="", set_round="1:voting")

    async def reveal() -> bool:
        try:
            await store.append("w1", [b"reveal"], expect_round="1:voting", set_round="1:revealed")
        except RoundChanged:
            return False
        return True

    outcomes = await asyncio.gather(*(reveal() for _ in range(20)))

    assert outcomes.count(True) == 1
    assert (await store.read("w1")).count(b"reveal") == 1


async def test_listener_hears_appends(store: EventStore) -> None:
    notices: asyncio.Queue[tuple[str, int, list[bytes] | None]] = asyncio.Queue()
    store.listener = lambda workshop, last_seq, events: notices.put_nowait(
        (workshop, last_seq, events)
    )
    await store.create("w1", "ABC234", b"e1")
    second = b'{"type": "vote", "notes": "two words \\n and an escaped newline"}'

    await store.append("w1", [b"e2", second])

    workshop, last_seq, events = await asyncio.wait_for(notices.get(), 5)
    assert (workshop, last_seq) == ("w1", 3)
    # The events come with the notice, so listeners need not read them back.
    assert events == [b"e2", second]


async def test_check_passes_when_open(store: EventStore) -> None:
    await store.check()


async def test_sqlite_purges_idle_workshops(tmp_path: Path) -> None:
    store = SqliteEventStore(tmp_path / "events.sqlite3", retention_seconds=3600)
    await store.open()
    try:
        await store.create("old", "OLD234", b"e1")
        await store.create("new", "NEW234", b"e1")
        await store.append("new", [b"e2"])

        removed = await store.purge_expired(now=time.time() + 3599)
        assert removed == 0
        assert await store.workshop_ids() == ["new", "old"]

        removed = await store.purge_expired(now=time.time() + 3601)
        assert removed == 2
        assert await store.read("old") == []
        assert await store.find_by_code("OLD234") is None
    finally:
        await store.close()


async def test_redis_keys_carry_retention() -> None:
    await _flush_redis()
    store = RedisEventStore(REDIS_URL, retention_seconds=3600)
    await store.open()
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        await store.create("w1", "ABC234", b"e1")
        await client.persist("cg:{w1}:events")
        await store.append("w1", [b"e2"])
        for key in ("cg:{w1}:events", "cg:{w1}:meta", "cg:code:ABC234"):
            assert 3590 < await client.ttl(key) <= 3600, key
    finally:
        await client.aclose()
        await store.close()


async def test_sqlite_refuses_unknown_schema(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    old = sqlite3.connect(path)
    old.execute("CREATE TABLE workshops (id TEXT PRIMARY KEY, join_code TEXT)")
    old.commit()
    old.close()

    store = SqliteEventStore(path)
    with pytest.raises(StoreUnavailable, match="move it away"):
        await store.open()
    await store.close()


async def test_rubric_saved_once_per_id(store: EventStore) -> None:
    assert await store.save_rubric("custom", b'id = "custom"')
    assert not await store.save_rubric("custom", b'id = "custom"  # changed')

    assert await store.rubric_ids() == ["custom"]
    assert await store.rubric_source("custom") == b'id = "custom"'
    assert await store.rubric_source("missing") is None


async def test_rubric_ids_sorted(store: EventStore) -> None:
    for rubric_id in ("b-rubric", "a-rubric", "c-rubric"):
        await store.save_rubric(rubric_id, rubric_id.encode())

    assert await store.rubric_ids() == ["a-rubric", "b-rubric", "c-rubric"]


async def test_redis_follower_survives_malformed_notices(
    caplog: pytest.LogCaptureFixture,
) -> None:
    await _flush_redis()
    store = RedisEventStore(REDIS_URL)
    notices: asyncio.Queue[tuple[str, int, list[bytes] | None]] = asyncio.Queue()
    store.listener = lambda workshop, last_seq, events: notices.put_nowait(
        (workshop, last_seq, events)
    )
    await store.open()
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        await store.create("w1", "ABC234", b"e1")
        vote = b'{"type":"vote_cast","participant":"p-secret","level":4}'
        for notice in (b"garbage", b"w1 x 1\ne2", b"w1 \xff\xfe 2", vote):
            await client.publish("cg:events", notice)
        await client.publish("cg:events", b"w1 2 3\nonly one event")

        await store.append("w1", [b"e2"])

        # A notice whose events do not match its count makes the listener read the stream.
        assert await asyncio.wait_for(notices.get(), 5) == ("w1", 2, None)
        assert await asyncio.wait_for(notices.get(), 5) == ("w1", 2, [b"e2"])
        # A malformed notice may be an event, so its text never reaches the log.
        assert not [r for r in caplog.records if "p-secret" in r.getMessage()]
        assert [r for r in caplog.records if "malformed notice" in r.getMessage()]
    finally:
        await client.aclose()
        await store.close()


async def test_redis_notices_carry_batched_appends() -> None:
    await _flush_redis()
    writer = RedisEventStore(REDIS_URL)
    follower = RedisEventStore(REDIS_URL)
    notices: asyncio.Queue[tuple[str, int, list[bytes] | None]] = asyncio.Queue()
    follower.listener = lambda workshop, last_seq, events: notices.put_nowait(
        (workshop, last_seq, events)
    )
    await writer.open()
    await follower.open()
    try:
        await writer.create("w1", "ABC234", b"e1")
        await writer.create("w2", "DEF567", b"e1")
        broken = b'{"notes": "a raw\nline break"}'

        # Appends made at one moment go out in one call, so their notices share a message.
        seqs = await asyncio.gather(
            writer.append("w1", [b"a2", b"a3"]),
            writer.append("w2", [b"b2"]),
            writer.append("w1", [broken]),
            writer.append("w2", [b"b3"]),
        )

        assert seqs == [3, 2, 4, 3]
        heard = [await asyncio.wait_for(notices.get(), 5) for _ in range(4)]
        assert heard[0] == ("w1", 3, [b"a2", b"a3"])
        assert heard[1] == ("w2", 2, [b"b2"])
        # An event with a line break is left out of the notice, to be read instead.
        assert heard[2] == ("w1", 4, None)
        assert heard[3] == ("w2", 3, [b"b3"])
        assert await writer.read("w1", after=3) == [broken]
    finally:
        await follower.close()
        await writer.close()


async def test_redis_failed_call_fails_only_its_appends() -> None:
    await _flush_redis()
    store = RedisEventStore(REDIS_URL)
    await store.open()
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        await store.create("w1", "ABC234", b"e1")
        await client.set("cg:{broken}:meta", "not a hash")
        count = MAX_APPENDS_PER_CALL

        # The first call stores `count` appends; the second one fails on the broken key.
        outcomes = await asyncio.gather(
            *(store.append("w1", [b"vote"]) for _ in range(count)),
            store.append("broken", [b"vote"]),
            return_exceptions=True,
        )

        assert outcomes[:count] == list(range(2, count + 2))
        assert isinstance(outcomes[count], StoreUnavailable)
    finally:
        await client.aclose()
        await store.close()
