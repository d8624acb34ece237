"""Garbage collection that keeps the event loop from pausing while a room votes.

A full collection visits every object the collector tracks. With 10,000 phones
connected there are about a million, and one full collection paused the event loop
for 0.65 s on this project's 2-core machine. So the objects that survive are frozen
five times a second: the collector no longer visits them, and its full collections
cover only what was allocated since.

Reference counting still frees frozen objects, except those in reference cycles.
Every closed websocket leaves such a cycle, of about the size of an open one (uvicorn's
and the websockets library's protocol objects refer to each other). A full
collection over everything, frozen objects included, frees them. It runs when it is
short, when no client is connected, or once closed connections' cycles add up to
``GARBAGE_BUDGET`` connections while no round is taking votes. Past ``GARBAGE_LIMIT``
it runs even during a round, because memory must stay bounded.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Callable

from server.hub import Hub

__all__ = ("keep_collections_short", "watch_collection_pauses")

logger = logging.getLogger(__name__)

LONG_PAUSE = 0.1
"""Seconds a garbage collection may pause the event loop before it is logged."""
FREEZE_INTERVAL = 0.2
"""Seconds between two freezes of every surviving object. Python's own collections of
the oldest generation visit what survived since the last freeze: as 10,000 phones
joined, a second's worth took 105 ms."""
SHORT_COLLECTION_CONNECTIONS = 500
"""Open and closed connections below which a full collection is short, so it runs
whenever some have closed. An estimate: it visits every one of them, and 10,000
took 0.65 s."""
MIN_INTERVAL = 10.0
"""Seconds between two full collections at least, so clients coming and going cost
little CPU."""
GARBAGE_BUDGET = 10_000
"""Closed connections whose cycles may wait for a moment without open rounds: about
250 MB, estimating each cycle at an open connection's 25 KB."""
GARBAGE_LIMIT = 4 * GARBAGE_BUDGET
"""Closed connections after which a full collection runs even while a round is open,
so that memory stays bounded (about 1 GB) when rounds are always open somewhere."""


def watch_collection_pauses(connection_count: Callable[[], int]) -> None:
    """Log every garbage collection that pauses the event loop for over ``LONG_PAUSE``,
    with the number of clients it kept waiting."""
    started = [0.0]

    def measure(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
            return
        paused = time.perf_counter() - started[0]
        if paused > LONG_PAUSE:
            logger.warning(
                "a collection of generation %d paused the server for %.0f ms "
                "with %d clients connected",
                info["generation"],
                paused * 1000,
                connection_count(),
            )

    gc.callbacks.append(measure)


def should_collect_all(closed: int, connected: int, round_open: bool) -> bool:
    """Tell whether to run a full collection now, after ``closed`` connections closed
    since the last one, with ``connected`` open and a round taking votes or not."""
    if closed == 0:
        return False
    if connected == 0 or connected + closed < SHORT_COLLECTION_CONNECTIONS:
        return True  # No client waits, or not for long.
    if closed >= GARBAGE_LIMIT:
        return True  # Memory comes first, even if a round is open.
    return closed >= GARBAGE_BUDGET and not round_open


async def keep_collections_short(hub: Hub) -> None:
    """Freeze surviving objects every ``FREEZE_INTERVAL`` seconds, and collect frozen
    cycles when :func:`should_collect_all` allows it, at most every ``MIN_INTERVAL``
    seconds. Runs until cancelled."""
    loop = asyncio.get_running_loop()
    collected_at = hub.closed_connections
    last_collection = loop.time() - MIN_INTERVAL
    while True:
        await asyncio.sleep(FREEZE_INTERVAL)
        closed = hub.closed_connections - collected_at
        due = loop.time() - last_collection >= MIN_INTERVAL
        if due and should_collect_all(closed, hub.connection_count(), hub.round_open()):
            started = time.perf_counter()
            gc.unfreeze()
            gc.collect()
            collected_at = hub.closed_connections
            last_collection = loop.time()
            logger.info(
                "a full garbage collection after %d closed connections took %.0f ms",
                closed,
                (time.perf_counter() - started) * 1000,
            )
        gc.freeze()
