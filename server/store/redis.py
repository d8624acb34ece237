"""The shared event store for several workers: Redis streams, Lua scripts and pub/sub.

Each workshop has a stream of events whose entry ids are ``<seq>-0``, and a hash with
its last sequence number and round marker. One Lua script checks the round marker,
appends and publishes the new events, so the check and the write are atomic across
every worker. A worker applies the published events when they follow on from the
last sequence number it applied, and otherwise reads the stream from there, so a
lost message or a reconnect costs a re-read, never a lost update.

Keys (``{id}`` is a Redis Cluster hash tag, so one workshop's keys share a slot):

- ``cg:{<id>}:events``: stream of events, field ``e``
- ``cg:{<id>}:meta``: hash with ``seq`` and ``round``
- ``cg:code:<CODE>``: the workshop id holding a join code
- ``cg:workshops``: set of every workshop id
- ``cg:rubrics``: hash of uploaded rubrics' TOML text by rubric id; it never expires
- ``cg:events``: pub/sub channel. After an append it carries ``<id> <seq> <count>``,
  then a newline and the appended events (JSON, which has no raw newlines) one per
  line; ``<seq>`` is the last one's. After a deletion it carries ``<id> deleted``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
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

# ARGV: expect flag, expected marker, set flag, new marker, workshop id, retention in
# seconds, events... Every append restarts the retention period of the workshop's keys.
# NOTE: the join code key is found through the meta hash rather than KEYS, so this
# script is not Redis Cluster safe as written.
_APPEND = """
local seq = redis.call('HGET', KEYS[1], 'seq')
if not seq then return {0, ''} end
seq = tonumber(seq)
local marker = redis.call('HGET', KEYS[1], 'round') or ''
if ARGV[1] == '1' and ARGV[2] ~= marker then return {-1, marker} end
for index = 7, #ARGV do
    seq = seq + 1
    redis.call('XADD', KEYS[2], seq .. '-0', 'e', ARGV[index])
end
redis.call('HSET', KEYS[1], 'seq', seq)
if ARGV[3] == '1' then redis.call('HSET', KEYS[1], 'round', ARGV[4]) end
redis.call('EXPIRE', KEYS[1], ARGV[6])
redis.call('EXPIRE', KEYS[2], ARGV[6])
local code = redis.call('HGET', KEYS[1], 'code')
if code then redis.call('EXPIRE', 'cg:code:' .. code, ARGV[6]) end
local notice = ARGV[5] .. ' ' .. seq .. ' ' .. (#ARGV - 6)
redis.call('PUBLISH', KEYS[3], notice .. '\\n' .. table.concat(ARGV, '\\n', 7))
return {seq, ''}
"""


# KEYS: meta, events, workshops set, channel; ARGV: workshop id
_DELETE = """
local code = redis.call('HGET', KEYS[1], 'code')
if code then redis.call('DEL', 'cg:code:' .. code) end
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('SREM', KEYS[3], ARGV[1])
redis.call('PUBLISH', KEYS[4], ARGV[1] .. ' deleted')
return 1
"""


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
        self._pending: list[tuple[list[str], list[str | bytes], asyncio.Future[Any]]] = []
        self._wake = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._append_sha: str | None = None
        self.listener: EventsListener | None = None
        self.reconnected: Callable[[], None] | None = None
        self.disconnected: Callable[[], None] | None = None
        self.removed: Callable[[str], None] | None = None

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
        for _, _, future in self._pending:
            if not future.done():
                future.set_exception(StoreUnavailable("the store is closing"))
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
        arguments: list[str | bytes] = [
            "0" if expect_round is None else "1",
            expect_round or "",
            "0" if set_round is None else "1",
            set_round or "",
            workshop_id,
            self._retention,
            *events,
        ]
        keys = [_meta_key(workshop_id), _events_key(workshop_id), CHANNEL]
        future: asyncio.Future[list[bytes | int]] = asyncio.get_running_loop().create_future()
        self._pending.append((keys, arguments, future))
        self._wake.set()
        seq, marker = await future
        if seq == 0:
            raise StoreUnavailable(f"workshop {workshop_id} does not exist")
        if seq == -1:
            raise RoundChanged(bytes(marker).decode())
        return int(seq)

    async def _write_batches(self) -> None:
        """Send the appends waiting at each moment as one pipeline.

        One round trip then carries a whole burst of votes, and with ``appendfsync
        always`` Redis syncs its append-only file once for all of them before replying.
        NOTE: when the connection fails mid-pipeline, appends that Redis did run are
        reported as failed too. A retry then stores a repeated event, which the fold
        treats like the first one.
        """
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch, self._pending = self._pending, []
            if not batch:
                continue
            try:
                results = await self._run_appends(batch)
                missing = [i for i, r in enumerate(results) if isinstance(r, NoScriptError)]
                if missing:
                    # Redis restarted and forgot the script: load it and run those again.
                    retried = await self._run_appends([batch[i] for i in missing])
                    for index, result in zip(missing, retried, strict=True):
                        results[index] = result
            except (RedisError, OSError) as error:
                logger.error("appending %d batched commands to Redis failed: %s", len(batch), error)
                results = [error] * len(batch)
            except Exception as error:  # noqa: BLE001 - the writer must outlive any one batch
                logger.exception("appending %d batched commands to Redis failed", len(batch))
                results = [error] * len(batch)
            for (_, _, future), result in zip(batch, results, strict=True):
                if future.done():
                    continue
                if isinstance(result, BaseException):
                    failure = StoreUnavailable(f"Redis is unreachable: {result}")
                    future.set_exception(failure)
                else:
                    future.set_result(result)

    async def _run_appends(
        self, batch: list[tuple[list[str], list[str | bytes], asyncio.Future[Any]]]
    ) -> list[Any]:
        if self._append_sha is None:
            self._append_sha = await self._redis.script_load(_APPEND)
        pipeline = self._redis.pipeline(transaction=False)
        for keys, arguments, _ in batch:
            pipeline.evalsha(self._append_sha, len(keys), *keys, *arguments)
        results: list[Any] = await pipeline.execute(raise_on_error=False)
        if any(isinstance(result, NoScriptError) for result in results):
            self._append_sha = None
        return results

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
                    self._relay(message)
            except (RedisError, OSError) as error:
                if attempt == 0 and self.disconnected is not None:
                    self.disconnected()
                delay = RECONNECT_DELAYS[min(attempt, len(RECONNECT_DELAYS) - 1)]
                attempt += 1
                logger.warning("Redis subscription lost (%s); retrying in %.1f s", error, delay)
                await asyncio.sleep(delay)
            finally:
                await pubsub.aclose()

    def _relay(self, message: dict[str, object]) -> None:
        data = message.get("data")
        if not isinstance(data, bytes) or self.listener is None:
            return
        head, _, body = data.partition(b"\n")
        workshop_id, _, rest = head.decode(errors="replace").partition(" ")
        if rest == "deleted":
            if self.removed is not None:
                self.removed(workshop_id)
            return
        seq, _, count = rest.partition(" ")
        if not (seq.isascii() and seq.isdigit()):
            logger.warning("ignored a malformed notice on %s: %r", CHANNEL, head[:80])
            return
        events = body.split(b"\n") if body else None
        if events is not None and count != str(len(events)):
            events = None  # Not the events announced, so the listener reads the stream.
        self.listener(workshop_id, int(seq), events)
