"""The shared event store for several workers: Redis streams, Lua scripts and pub/sub.

Each workshop has a stream of events whose entry ids are ``<seq>-0``, and a hash with
its last sequence number and round marker. One Lua script checks the round marker,
appends and publishes the new events, so the check and the write are atomic across
every worker. Each call stores all the appends that a worker has waiting, so a burst
of votes costs a few calls and notices, not one per vote. A worker applies the
published events when they follow on from the last sequence number it applied, and
otherwise reads the stream from there, so a lost message or a reconnect costs a
re-read, never a lost update.

Keys (``{id}`` is a Redis Cluster hash tag, so one workshop's keys share a slot):

- ``cg:{<id>}:events``: stream of events, field ``e``
- ``cg:{<id>}:meta``: hash with ``seq`` and ``round``
- ``cg:code:<CODE>``: the workshop id holding a join code
- ``cg:workshops``: set of every workshop id
- ``cg:rubrics``: hash of uploaded rubrics' TOML text by rubric id; it never expires
- ``cg:events``: pub/sub channel of notices, lines separated by newlines. For each
  append of a call a line ``<id> <seq> <count>`` is followed by the ``<count>``
  events, one per line (JSON has no raw line breaks), and ``<seq>`` is the last
  one's. When an event has a line break, the line reads ``<id> <seq> -`` and the
  events are left out. After a deletion the notice is ``<id> deleted``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from redis import asyncio as aioredis
from redis.exceptions import NoScriptError, RedisError

from server.store import EventsListener, JoinCodeTaken, RoundChanged, StoreUnavailable

__all__ = ("RedisEventStore",)

logger = logging.getLogger(__name__)

CHANNEL = "cg:events"
WORKSHOPS_KEY = "cg:workshops"
RUBRICS_KEY = "cg:rubrics"
MAX_CONNECTIONS = 64
RECONNECT_DELAYS = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0)

# ARGV: workshop id, creation event, join code, retention in seconds
_CREATE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[4])
redis.call('HSET', KEYS[2], 'seq', 1, 'round', '', 'code', ARGV[3])
redis.call('XADD', KEYS[3], '1-0', 'e', ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[4])
redis.call('EXPIRE', KEYS[3], ARGV[4])
redis.call('SADD', KEYS[4], ARGV[1])
return 1
"""

# KEYS: the channel, then the meta and events keys of each append in turn.
# ARGV: retention in seconds, then for each append: workshop id, expect flag, expected
# marker, set flag, new marker, number of events, the events.
# Returns {seq, marker} for each append: {0, ''} when the workshop does not exist,
# {-1, marker} when its round marker differs from the expected one.
# Every append restarts the retention period of the workshop's keys. All appends of
# one call share one notice, one line per event.
# NOTE: one call touches the keys of many workshops, and the join code key is found
# through the meta hash rather than KEYS, so this script cannot run on Redis Cluster.
_APPEND = """
local retention = ARGV[1]
local results = {}
local notice = {}
local at = 2
for index = 1, (#KEYS - 1) / 2 do
    local meta, stream = KEYS[2 * index], KEYS[2 * index + 1]
    local workshop, expect, expected = ARGV[at], ARGV[at + 1], ARGV[at + 2]
    local set, marker, count = ARGV[at + 3], ARGV[at + 4], tonumber(ARGV[at + 5])
    local first, last = at + 6, at + 5 + count
    at = last + 1
    local seq = redis.call('HGET', meta, 'seq')
    local current = redis.call('HGET', meta, 'round') or ''
    if not seq then
        results[index] = {0, ''}
    elseif expect == '1' and expected ~= current then
        results[index] = {-1, current}
    else
        seq = tonumber(seq)
        local one_line_each = true
        for position = first, last do
            seq = seq + 1
            redis.call('XADD', stream, seq .. '-0', 'e', ARGV[position])
            if string.find(ARGV[position], '\\n', 1, true) then one_line_each = false end
        end
        redis.call('HSET', meta, 'seq', seq)
        if set == '1' then redis.call('HSET', meta, 'round', marker) end
        redis.call('EXPIRE', meta, retention)
        redis.call('EXPIRE', stream, retention)
        local code = redis.call('HGET', meta, 'code')
        if code then redis.call('EXPIRE', 'cg:code:' .. code, retention) end
        if one_line_each then
            notice[#notice + 1] = workshop .. ' ' .. seq .. ' ' .. count
            for position = first, last do notice[#notice + 1] = ARGV[position] end
        else
            notice[#notice + 1] = workshop .. ' ' .. seq .. ' -'
        end
        results[index] = {seq, ''}
    end
end
if #notice > 0 then redis.call('PUBLISH', KEYS[1], table.concat(notice, '\\n')) end
return results
"""

MAX_APPENDS_PER_CALL = 200
"""Appends stored by one call of the append script; a burst is split into calls of
this many, so Redis serves other clients between them."""


# KEYS: meta, events, workshops set, channel; ARGV: workshop id
_DELETE = """
local code = redis.call('HGET', KEYS[1], 'code')
if code then redis.call('DEL', 'cg:code:' .. code) end
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('SREM', KEYS[3], ARGV[1])
redis.call('PUBLISH', KEYS[4], ARGV[1] .. ' deleted')
return 1
"""


@dataclass
class _Append:
    """One command's events waiting to be stored."""

    workshop_id: str
    events: list[bytes]
    expect_round: str | None
    set_round: str | None
    future: asyncio.Future[list[Any]]


def _events_key(workshop_id: str) -> str:
    return f"cg:{{{workshop_id}}}:events"


def _meta_key(workshop_id: str) -> str:
    return f"cg:{{{workshop_id}}}:meta"


def _code_key(join_code: str) -> str:
    return f"cg:code:{join_code}"


class RedisEventStore:
    """Event store shared by every worker connected to one Redis server."""

    def __init__(self, url: str, *, retention_seconds: float = 180 * 86400) -> None:
        self._url = url
        self._retention = str(int(retention_seconds))
        pool = aioredis.BlockingConnectionPool.from_url(
            url, max_connections=MAX_CONNECTIONS, timeout=5, socket_connect_timeout=2
        )
        self._redis = aioredis.Redis(connection_pool=pool)
        self._create = self._redis.register_script(_CREATE)
        self._delete = self._redis.register_script(_DELETE)
        self._subscriber: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()
        self._pending: list[_Append] = []
        self._wake = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._append_sha: str | None = None
        self.listener: EventsListener | None = None
        self.reconnected: Callable[[], None] | None = None
        self.disconnected: Callable[[], None] | None = None
        self.removed: Callable[[str], None] | None = None
        self.missed: Callable[[], None] | None = None

    async def open(self) -> None:
        await self.check()
        self._subscriber = asyncio.create_task(self._follow(), name="redis-event-follower")
        self._writer = asyncio.create_task(self._write_batches(), name="redis-append-writer")
        await asyncio.wait_for(self._subscribed.wait(), 10)

    async def close(self) -> None:
        for task in (self._subscriber, self._writer):
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
        await self._redis.aclose()
        await self._redis.connection_pool.disconnect()

    async def check(self) -> None:
        """Raise :class:`StoreUnavailable` unless Redis responds to a ping."""
        try:
            await self._redis.ping()
        except (RedisError, OSError) as error:
            raise StoreUnavailable(f"Redis is unreachable: {error}") from error

    async def create(self, workshop_id: str, join_code: str, first_event: bytes) -> None:
        keys = [_code_key(join_code), _meta_key(workshop_id), _events_key(workshop_id)]
        try:
            created = await self._create(
                keys=[*keys, WORKSHOPS_KEY],
                args=[workshop_id, first_event, join_code, self._retention],
            )
        except (RedisError, OSError) as error:
            raise StoreUnavailable(f"Redis is unreachable: {error}") from error
        if not created:
            raise JoinCodeTaken(join_code)

    async def append(
        self,
        workshop_id: str,
        events: list[bytes],
        *,
        expect_round: str | None = None,
        set_round: str | None = None,
    ) -> int:
        future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        self._pending.append(_Append(workshop_id, events, expect_round, set_round, future))
        self._wake.set()
        seq, marker = await future
        if seq == 0:
            raise StoreUnavailable(f"workshop {workshop_id} does not exist")
        if seq == -1:
            raise RoundChanged(bytes(marker).decode())
        return int(seq)

    async def _write_batches(self) -> None:
        """Store the appends waiting at each moment with as few script calls as possible.

        One round trip then carries a whole burst of votes, and with ``appendfsync
        always`` Redis syncs its append-only file once for all of them before replying.
        A call that fails fails only its own appends.
        NOTE: when the connection fails mid-call, appends that Redis did run are
        reported as failed too. A retry then stores a repeated event, which the fold
        treats like the first one.
        """
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch, self._pending = self._pending, []
            if not batch:
                continue
            calls = [
                batch[start : start + MAX_APPENDS_PER_CALL]
                for start in range(0, len(batch), MAX_APPENDS_PER_CALL)
            ]
            outcomes = await self._run_calls(calls)
            if any(isinstance(outcome, NoScriptError) for outcome in outcomes):
                # Redis restarted and forgot the script: load it and run those again.
                self._append_sha = None
                again = [
                    i for i, outcome in enumerate(outcomes) if isinstance(outcome, NoScriptError)
                ]
                retried = await self._run_calls([calls[i] for i in again])
                for index, outcome in zip(again, retried, strict=True):
                    outcomes[index] = outcome
            for call, outcome in zip(calls, outcomes, strict=True):
                if isinstance(outcome, BaseException):
                    logger.error(
                        "appending %d batched commands to Redis failed: %s", len(call), outcome
                    )
                    results: list[Any] = [outcome] * len(call)
                else:
                    results = outcome
                for pending, result in zip(call, results, strict=True):
                    if pending.future.done():
                        continue
                    if isinstance(result, BaseException):
                        failure = StoreUnavailable(f"Redis did not store the events: {result}")
                        pending.future.set_exception(failure)
                    else:
                        pending.future.set_result(result)

    async def _run_calls(self, calls: list[list[_Append]]) -> list[Any]:
        """Run the append script once per call, in one pipeline; return each call's
        list of {seq, marker}, or the exception it failed with."""
        try:
            if self._append_sha is None:
                self._append_sha = await self._redis.script_load(_APPEND)
            pipeline = self._redis.pipeline(transaction=False)
            for call in calls:
                keys: list[str] = [CHANNEL]
                arguments: list[str | bytes] = [self._retention]
                for pending in call:
                    keys += [_meta_key(pending.workshop_id), _events_key(pending.workshop_id)]
                    arguments += [
                        pending.workshop_id,
                        "0" if pending.expect_round is None else "1",
                        pending.expect_round or "",
                        "0" if pending.set_round is None else "1",
                        pending.set_round or "",
                        str(len(pending.events)),
                        *pending.events,
                    ]
                pipeline.evalsha(self._append_sha, len(keys), *keys, *arguments)
            return list(await pipeline.execute(raise_on_error=False))
        except Exception as error:  # noqa: BLE001 - the writer must outlive any one batch
            if not isinstance(error, RedisError | OSError):
                logger.exception("appending %d script calls to Redis failed", len(calls))
            return [error] * len(calls)

    async def read(self, workshop_id: str, after: int = 0) -> list[bytes]:
        start = f"({after}-0" if after else "-"
        try:
            entries = await self._redis.xrange(_events_key(workshop_id), min=start, max="+")
        except (RedisError, OSError) as error:
            raise StoreUnavailable(f"Redis is unreachable: {error}") from error
        return [fields[b"e"] for _, fields in entries]

    async def delete(self, workshop_id: str) -> None:
        keys = [_meta_key(workshop_id), _events_key(workshop_id), WORKSHOPS_KEY, CHANNEL]
        try:
            await self._delete(keys=keys, args=[workshop_id])
        except (RedisError, OSError) as error:
            raise StoreUnavailable(f"Redis is unreachable: {error}") from error

    async def find_by_code(self, join_code: str) -> str | None:
        try:
            found = await self._redis.get(_code_key(join_code))
        except (RedisError, OSError) as error:
            raise StoreUnavailable(f"Redis is unreachable: {error}") from error
        return found.decode() if found else None

    async def workshop_ids(self) -> list[str]:
        try:
            members = sorted(
                member.decode() for member in await self._redis.smembers(WORKSHOPS_KEY)
            )
            alive = []
            for workshop_id in members:
                if await self._redis.exists(_meta_key(workshop_id)):
                    alive.append(workshop_id)
                else:
                    await self._redis.srem(WORKSHOPS_KEY, workshop_id)
        except (RedisError, OSError) as error:
            raise StoreUnavailable(f"Redis is unreachable: {error}") from error
        return alive

    async def save_rubric(self, rubric_id: str, source: bytes) -> bool:
        try:
            return bool(await self._redis.hsetnx(RUBRICS_KEY, rubric_id, source))
        except (RedisError, OSError) as error:
            raise StoreUnavailable(f"Redis is unreachable: {error}") from error

    async def rubric_ids(self) -> list[str]:
        try:
            keys = await self._redis.hkeys(RUBRICS_KEY)
        except (RedisError, OSError) as error:
            raise StoreUnavailable(f"Redis is unreachable: {error}") from error
        return sorted(key.decode() for key in keys)

    async def rubric_source(self, rubric_id: str) -> bytes | None:
        try:
            source: bytes | None = await self._redis.hget(RUBRICS_KEY, rubric_id)
        except (RedisError, OSError) as error:
            raise StoreUnavailable(f"Redis is unreachable: {error}") from error
        return source

    async def _follow(self) -> None:
        """Relay wake-ups from every worker to the listener, resubscribing after outages."""
        attempt = 0
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(CHANNEL)
                if attempt:
                    logger.info("resubscribed to Redis after %d failed attempts", attempt)
                    if self.reconnected is not None:
                        # Wake-ups published while disconnected were missed, so re-read.
                        self.reconnected()
                attempt = 0
                self._subscribed.set()
                async for message in pubsub.listen():
                    try:
                        self._relay(message)
                    except Exception as error:  # noqa: BLE001 - one notice must not stop the follower
                        # The error text may quote an event, so only its kind is logged.
                        logger.error(
                            "applying a notice from %s failed (%s); catching up from the store",
                            CHANNEL,
                            type(error).__name__,
                        )
                        self._missed()
            except (RedisError, OSError) as error:
                if attempt == 0 and self.disconnected is not None:
                    self.disconnected()
                delay = RECONNECT_DELAYS[min(attempt, len(RECONNECT_DELAYS) - 1)]
                attempt += 1
                logger.warning("Redis subscription lost (%s); retrying in %.1f s", error, delay)
                await asyncio.sleep(delay)
            finally:
                await pubsub.aclose()

    def _missed(self) -> None:
        if self.missed is not None:
            self.missed()

    def _relay(self, message: dict[str, object]) -> None:
        data = message.get("data")
        if not isinstance(data, bytes) or self.listener is None:
            return
        lines = data.split(b"\n")
        index = 0
        while index < len(lines):
            head = lines[index].decode(errors="replace")
            index += 1
            workshop_id, _, rest = head.partition(" ")
            if rest == "deleted":
                if self.removed is not None:
                    self.removed(workshop_id)
                continue
            seq, _, count = rest.partition(" ")
            if not (seq.isascii() and seq.isdigit()):
                # Its text could be an event, such as a vote, so it is not logged.
                logger.warning("ignored a malformed notice of %d bytes on %s", len(data), CHANNEL)
                self._missed()
                return
            if not (count.isascii() and count.isdigit()) or index + int(count) > len(lines):
                # Events with line breaks are not in the notice, so the listener reads them.
                self.listener(workshop_id, int(seq), None)
                if count != "-":
                    self._missed()  # The rest of the notice cannot be parsed.
                    return
                continue
            events = lines[index : index + int(count)]
            index += int(count)
            self.listener(workshop_id, int(seq), events)
