"""Load generator: thousands of phones, a projector and a facilitator console on one server.

The controller process runs a console and a projector per workshop and a stall probe,
and starts ``--phone-processes`` worker processes that run the phones. With
``--workshops-file``, phone ``i`` joins workshop ``i`` modulo the number of workshops,
and each round opens and is revealed in every workshop at once. It runs these phases,
each under its own timeout:

1. connect: every phone opens a websocket and joins as staff or student;
2. round 1: the console opens a round and the phones vote, paced evenly over
   ``--paced-seconds``, then the console reveals it;
3. round 2 (a re-vote on the same item): every phone votes at once, as fast as the
   generator can send, then the console reveals;
4. rounds 3 and on: the votes spread evenly over ``--burst-seconds`` (1 s by default),
   then the console reveals.

It reads the server's CPU time and memory from /proc between phases and writes every
figure to a JSON file (see ``bench/run.py`` for the table made from it).

Times come from ``time.monotonic()``, which is CLOCK_MONOTONIC on Linux and so is
shared by all processes on the machine: a send time taken in one process can be
subtracted from a receive time taken in another.

Phones keep a fixed receive cost: they look only at the start of each message to
learn its type, decode acks and errors (30 to 200 bytes) in full, and scan room views
for the status of their last round only while a reveal is awaited.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import multiprocessing
import os
import resource
import signal
import subprocess
import sys
import time
from bisect import bisect_left
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection as Pipe
from pathlib import Path
from typing import Any

import msgspec
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

ITEM = "personalised-support"
"""Agenda item that every round votes on; later rounds are re-votes on it."""
LEVEL_COUNT = 5
NOT_SURE_EVERY = 13
"""Every 13th phone votes "not sure" (``level: null``)."""
PROBE_INTERVAL = 0.02
"""Seconds between two stall-probe messages."""
PROBE_TIMEOUT = 10.0
"""A probe unanswered for this long is recorded as a 10 s round trip."""
STALL_THRESHOLD_MS = 100.0
QUIET_CPU_SHARE = 0.05
"""The server counts as settled when it used under 5 % of a core over a 0.3 s window."""

ACK_PREFIX = b'{"type":"ack"'
ERROR_PREFIX = b'{"type":"error"'
ROOM_PREFIX = b'{"type":"room"'
ROUND_START = b'{"number":'
STATUS_KEY = b'"status":"'


class Reply(msgspec.Struct):
    """An ``ack`` or ``error``; other fields are skipped by the decoder."""

    type: str
    ref: int | None = None
    seq: int = 0
    code: str = ""


class RoleCount(msgspec.Struct):
    role: str
    count: int


class RoundSummary(msgspec.Struct):
    number: int
    status: str
    voted: list[RoleCount]


class ViewSummary(msgspec.Struct):
    seq: int
    rounds: list[RoundSummary]


class RoomMessage(msgspec.Struct):
    """The parts of a room view that the projector reads."""

    type: str
    view: ViewSummary | None = None


reply_decoder = msgspec.json.Decoder(Reply)
room_decoder = msgspec.json.Decoder(RoomMessage)


# Statistics -----------------------------------------------------------------------------


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """Return the nearest-rank percentile of ``values``, or ``None`` when it is empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * fraction // 1))
    return ordered[min(len(ordered), int(rank)) - 1]


def summarise_ms(seconds: Sequence[float]) -> dict[str, float | int | None]:
    """Summarise durations given in seconds as p50, p99 and max in milliseconds."""
    milliseconds = [value * 1000.0 for value in seconds]

    def rounded(value: float | None) -> float | None:
        return None if value is None else round(value, 2)

    return {
        "count": len(milliseconds),
        "p50": rounded(percentile(milliseconds, 0.50)),
        "p99": rounded(percentile(milliseconds, 0.99)),
        "max": rounded(max(milliseconds) if milliseconds else None),
    }


# The server's resource use, from /proc ---------------------------------------------------


def process_cpu_seconds(pid: int) -> float:
    """Return a process's on-CPU time over all its threads, from /proc/PID/task/*/schedstat."""
    on_cpu_ns = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/schedstat", encoding="ascii") as schedstat:
                on_cpu_ns += int(schedstat.read().split()[0])
        except FileNotFoundError:
            continue  # the thread ended between listdir and open
    return on_cpu_ns / 1e9


def process_tree(pid: int) -> list[int]:
    """Return ``pid`` and its descendants, from /proc/PID/task/*/children.

    With ``--workers N`` uvicorn's supervisor runs the workers as child processes, so
    the server's CPU time and memory are summed over the whole tree.
    """
    pids = [pid]
    for parent in pids:
        try:
            tasks = os.listdir(f"/proc/{parent}/task")
        except FileNotFoundError:
            continue
        for task in tasks:
            try:
                with open(f"/proc/{parent}/task/{task}/children", encoding="ascii") as children:
                    pids.extend(int(child) for child in children.read().split())
            except FileNotFoundError:
                continue
    return pids


def core_busy_seconds() -> dict[int, tuple[float, float]]:
    """Return, per CPU since boot, the seconds busy in tasks and the seconds spent in
    interrupt handlers (irq and softirq), from /proc/stat.

    On loopback, the kernel's TCP work for a socket send runs as softirq on the sending
    CPU and is not charged to the sending process, so it is kept apart from the time
    of other programs.
    """
    ticks_per_second = os.sysconf("SC_CLK_TCK")
    busy = {}
    with open("/proc/stat", encoding="ascii") as stat:
        for line in stat:
            name, *values = line.split()
            if not name.startswith("cpu") or name == "cpu":
                continue
            user, nice, system, idle, iowait, irq, softirq, steal = map(int, values[:8])
            tasks = user + nice + system + steal
            busy[int(name[3:])] = (tasks / ticks_per_second, (irq + softirq) / ticks_per_second)
    return busy


@dataclass
class ServerUsage:
    """The server's CPU time and memory, and every core's busy time, read at ``taken_at``."""

    taken_at: float
    cpu_seconds: float
    """Sum of the on-CPU nanoseconds in /proc/PID/task/*/schedstat, in seconds."""
    tick_cpu_seconds: float
    """utime + stime from /proc/PID/stat (all threads), at the kernel's tick resolution."""
    rss_kb: int
    threads: int
    core_busy: dict[int, tuple[float, float]]
    generator_cpu_seconds: float
    """CPU time of this process and the phone workers listed in ``GENERATOR_PIDS``."""


STORE_PIDS: list[int] = []
"""Pids of store processes (redis-server) whose CPU time and RSS count as the server's."""

GENERATOR_PIDS: list[int] = []
"""Pids of the generator's processes other than this one, for the interference check."""


def read_server_usage(pid: int) -> ServerUsage:
    """Read a process's CPU time and RSS from /proc; raises OSError once it has exited."""
    taken_at = time.monotonic()
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat_file:
        stat = stat_file.read()
    # The command name in brackets may contain spaces, so the fields after it are
    # counted from the closing bracket: utime and stime are fields 14 and 15.
    fields = stat[stat.rindex(")") + 2 :].split()
    ticks_per_second = os.sysconf("SC_CLK_TCK")
    tick_cpu_seconds = (int(fields[11]) + int(fields[12])) / ticks_per_second

    # NOTE: with several workers the RSS is a sum over processes, so pages they share
    # (the interpreter and modules loaded before the fork) count once per process.
    rss_kb = 0
    threads = 0
    cpu_seconds = 0.0
    for member in process_tree(pid) + STORE_PIDS:
        try:
            with open(f"/proc/{member}/status", encoding="ascii") as status_file:
                for line in status_file:
                    if line.startswith("VmRSS:"):
                        rss_kb += int(line.split()[1])
                    elif line.startswith("Threads:"):
                        threads += int(line.split()[1])
            cpu_seconds += process_cpu_seconds(member)
        except FileNotFoundError:
            continue  # the child exited after process_tree listed it

    generator_cpu = process_cpu_seconds(os.getpid())
    for worker_pid in GENERATOR_PIDS:
        try:
            generator_cpu += process_cpu_seconds(worker_pid)
        except FileNotFoundError:
            continue
    return ServerUsage(
        taken_at=taken_at,
        cpu_seconds=cpu_seconds,
        tick_cpu_seconds=tick_cpu_seconds,
        rss_kb=rss_kb,
        threads=threads,
        core_busy=core_busy_seconds(),
        generator_cpu_seconds=generator_cpu,
    )


def usage_between(before: ServerUsage, after: ServerUsage, server_pid: int) -> dict[str, float]:
    """Return the server's CPU use between two readings, and how busy other programs kept
    the server's core and the generator's core (the tick resolution of /proc/stat, 10 ms,
    limits their precision)."""
    wall = after.taken_at - before.taken_at
    cpu = after.cpu_seconds - before.cpu_seconds
    figures = {
        "wall_s": round(wall, 4),
        "cpu_s": round(cpu, 4),
        "tick_cpu_s": round(after.tick_cpu_seconds - before.tick_cpu_seconds, 3),
        "cpu_share": round(cpu / wall, 3) if wall > 0 else 0.0,
        "generator_cpu_s": round(after.generator_cpu_seconds - before.generator_cpu_seconds, 4),
    }
    server_cores = os.sched_getaffinity(server_pid)
    generator_cores = os.sched_getaffinity(0)
    if len(server_cores) == 1 and len(generator_cores) == 1 and server_cores != generator_cores:
        (server_core,) = server_cores
        (generator_core,) = generator_cores
        server_tasks = after.core_busy[server_core][0] - before.core_busy[server_core][0]
        server_interrupts = after.core_busy[server_core][1] - before.core_busy[server_core][1]
        generator_tasks = after.core_busy[generator_core][0] - before.core_busy[generator_core][0]
        figures["interrupts_on_server_core_s"] = round(server_interrupts, 3)
        figures["other_on_server_core_s"] = round(max(0.0, server_tasks - cpu), 3)
        figures["other_on_generator_core_s"] = round(
            max(0.0, generator_tasks - figures["generator_cpu_s"]), 3
        )
    return figures


async def wait_until_server_quiet(pid: int, timeout: float) -> float:
    """Wait until the server uses under ``QUIET_CPU_SHARE`` of a core; return the seconds waited."""
    started = time.monotonic()
    previous = read_server_usage(pid)
    while time.monotonic() - started < timeout:
        await asyncio.sleep(0.3)
        current = read_server_usage(pid)
        share = (current.cpu_seconds - previous.cpu_seconds) / (
            current.taken_at - previous.taken_at
        )
        if share < QUIET_CPU_SHARE:
            break
        previous = current
    return time.monotonic() - started


async def wait_until_others_quiet(pid: int, timeout: float) -> float | None:
    """Wait until other programs use under ``QUIET_CPU_SHARE`` of the server's and the
    generator's cores over 0.5 s.

    Returns the seconds waited, or ``None`` when they stayed busy for ``timeout``.
    """
    started = time.monotonic()
    previous = read_server_usage(pid)
    while time.monotonic() - started < timeout:
        await asyncio.sleep(0.5)
        current = read_server_usage(pid)
        figures = usage_between(previous, current, pid)
        other = max(
            figures.get("other_on_server_core_s", 0.0),
            figures.get("other_on_generator_core_s", 0.0),
        )
        if other < QUIET_CPU_SHARE * figures["wall_s"]:
            return time.monotonic() - started
        previous = current
    return None


# Phones: the worker processes --------------------------------------------------------------


def level_for(index: int, round_number: int) -> int | None:
    """Return phone ``index``'s vote in a round: spread over the levels, some "not sure"."""
    if (index + round_number) % NOT_SURE_EVERY == 0:
        return None
    return 1 + (index * 7 + round_number * 3) % LEVEL_COUNT


def role_for(index: int, staff_share: float) -> str:
    """Return ``staff`` for the first ``staff_share`` of every hundred phones, else ``student``."""
    return "staff" if index % 100 < staff_share * 100 else "student"


class Phone:
    """One phone's socket and the times the worker measured on it."""

    __slots__ = (
        "index",
        "role",
        "socket",
        "reader",
        "join_reply",
        "vote_ref",
        "vote_sent",
        "vote_acked",
        "vote_seq",
        "vote_error",
        "reveal_round",
        "reveal_received",
        "worker",
    )

    def __init__(self, index: int, role: str, worker: PhoneWorker) -> None:
        self.index = index
        self.role = role
        self.worker = worker
        self.socket: ClientConnection | None = None
        self.reader: asyncio.Task[None] | None = None
        self.join_reply: asyncio.Future[Reply] | None = None
        self.vote_ref = 1
        self.vote_sent = 0.0
        self.vote_acked = 0.0
        self.vote_seq = 0
        self.vote_error = ""
        self.reveal_round = 0
        self.reveal_received = 0.0

    async def read(self) -> None:
        """Receive until the socket closes, timing acks and the awaited reveal."""
        socket = self.socket
        assert socket is not None
        worker = self.worker
        try:
            while True:
                data = await socket.recv(decode=False)
                received = time.monotonic()
                worker.messages += 1
                worker.bytes_received += len(data)
                if data.startswith(ROOM_PREFIX):
                    worker.room_views += 1
                    if self.reveal_round and not self.reveal_received:
                        self._check_reveal(data, received)
                elif data.startswith(ACK_PREFIX) or data.startswith(ERROR_PREFIX):
                    self._take_reply(reply_decoder.decode(data), received)
        except ConnectionClosed:
            worker.closed += 1

    def _check_reveal(self, data: bytes, received: float) -> None:
        # Rounds are listed oldest first, and each round view starts with its number,
        # so the last '{"number":' in the message begins the latest round.
        start = data.rfind(ROUND_START)
        if start < 0:
            return
        end = data.find(b",", start)
        if int(data[start + len(ROUND_START) : end]) != self.reveal_round:
            return
        status = data.find(STATUS_KEY, end)
        if data.startswith(b"revealed", status + len(STATUS_KEY)):
            self.reveal_received = received
            self.worker.reveal_arrived()

    def _take_reply(self, reply: Reply, received: float) -> None:
        if reply.ref == 1 and self.join_reply is not None and not self.join_reply.done():
            self.join_reply.set_result(reply)
            return
        if reply.ref == self.vote_ref and not self.vote_acked:
            self.vote_acked = received
            if reply.type == "ack":
                self.vote_seq = reply.seq
            else:
                self.vote_error = reply.code
            self.worker.vote_answered()


@dataclass
class PhaseClock:
    """The worker's own CPU time over a phase, to show when the generator saturates."""

    started_wall: float = field(default_factory=time.monotonic)
    started_cpu: float = field(default_factory=time.process_time)

    def result(self) -> dict[str, float]:
        wall = time.monotonic() - self.started_wall
        cpu = time.process_time() - self.started_cpu
        return {"wall_s": round(wall, 4), "cpu_s": round(cpu, 4)}


class PhoneWorker:
    """The phones of one worker process and the commands the controller sends it."""

    def __init__(
        self, url: str, codes: list[str], indices: list[int], options: dict[str, Any]
    ) -> None:
        self.url = url
        self.codes = codes
        """Join code of each workshop; phone ``i`` joins workshop ``i % len(codes)``."""
        self.options = options
        self.phones = [Phone(i, role_for(i, options["staff_share"]), self) for i in indices]
        self.messages = 0
        self.room_views = 0
        self.bytes_received = 0
        self.closed = 0
        self._votes_outstanding = 0
        self._votes_answered = asyncio.Event()
        self._reveals_outstanding = 0
        self._reveals_arrived = asyncio.Event()
        self._reveal_clock = PhaseClock()
        self._reveal_counters = self.counters()

    def counters(self) -> dict[str, int]:
        return {
            "messages": self.messages,
            "room_views": self.room_views,
            "bytes": self.bytes_received,
            "closed": self.closed,
        }

    def vote_answered(self) -> None:
        self._votes_outstanding -= 1
        if self._votes_outstanding <= 0:
            self._votes_answered.set()

    def reveal_arrived(self) -> None:
        self._reveals_outstanding -= 1
        if self._reveals_outstanding <= 0:
            self._reveals_arrived.set()

    async def connect_all(self, start_at: float, concurrency: int, timeout: float) -> dict:
        """Open and join every phone, at most ``concurrency`` at a time."""
        await asyncio.sleep(max(0.0, start_at - time.monotonic()))
        clock = PhaseClock()
        limit = asyncio.Semaphore(concurrency)
        handshakes: list[float] = []
        joins: list[float] = []
        join_times: list[float] = []
        failures: list[str] = []
        compression = "deflate" if self.options["deflate"] else None

        async def open_one(phone: Phone) -> None:
            async with limit:
                began = time.monotonic()
                try:
                    phone.socket = await connect(
                        self.url,
                        compression=compression,
                        proxy=None,
                        open_timeout=timeout,
                        ping_interval=None,
                        close_timeout=2,
                        user_agent_header=None,
                    )
                except (OSError, InvalidHandshake, TimeoutError) as error:
                    failures.append(f"connect: {type(error).__name__}: {error}")
                    return
                opened = time.monotonic()
                handshakes.append(opened - began)
                phone.join_reply = asyncio.get_running_loop().create_future()
                phone.reader = asyncio.create_task(phone.read())
                code = self.codes[phone.index % len(self.codes)]
                join = {"type": "join", "code": code, "role": phone.role, "ref": 1}
                try:
                    await phone.socket.send(json.dumps(join))
                    reply = await asyncio.wait_for(phone.join_reply, timeout)
                except (ConnectionClosed, TimeoutError) as error:
                    failures.append(f"join: {type(error).__name__}: {error}")
                    return
                if reply.type != "ack":
                    failures.append(f"join: error {reply.code}")
                    return
                joined_at = time.monotonic()
                joins.append(joined_at - opened)
                join_times.append(joined_at)

        tasks = [asyncio.create_task(open_one(phone)) for phone in self.phones]
        done, pending = await asyncio.wait(tasks, timeout=timeout)
        for task in pending:
            task.cancel()
        finished = time.monotonic()
        # The heap now holds every connection; freezing it keeps the collector from
        # scanning them again in every full collection during the measured phases.
        gc.collect()
        gc.freeze()
        return {
            "started": clock.started_wall,
            "finished": finished,
            "handshakes": handshakes,
            "joins": joins,
            "join_times": join_times,
            "failures": failures[:20],
            "failure_count": len(failures) + len(pending),
            "client": clock.result(),
            "counters": self.counters(),
        }

    def _connected(self) -> list[Phone]:
        return [phone for phone in self.phones if phone.join_reply and phone.join_reply.done()]

    async def vote(
        self, round_number: int, start_at: float, spacing: float, total: int, timeout: float
    ) -> dict:
        """Send one vote per phone and wait for the answers.

        With ``spacing`` above zero, phone ``i`` (a global index) votes at
        ``start_at + i * spacing``; with zero, every phone votes at once, as fast as this
        process can send.
        """
        phones = self._connected()
        for phone in phones:
            phone.vote_ref += 1
            phone.vote_sent = phone.vote_acked = 0.0
            phone.vote_seq = 0
            phone.vote_error = ""
        self._votes_outstanding = len(phones)
        self._votes_answered.clear()
        counters_before = self.counters()
        await asyncio.sleep(max(0.0, start_at - time.monotonic()))
        clock = PhaseClock()
        send_failures = 0
        for phone in phones:
            if spacing > 0:
                delay = start_at + phone.index * spacing - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            level = level_for(phone.index, round_number)
            text = (
                f'{{"type":"vote","round":{round_number},'
                f'"level":{"null" if level is None else level},"ref":{phone.vote_ref}}}'
            )
            phone.vote_sent = time.monotonic()
            try:
                await phone.socket.send(text)  # type: ignore[union-attr]
            except ConnectionClosed:
                send_failures += 1
                self.vote_answered()
        sent = time.monotonic()
        if self._votes_outstanding > 0:
            try:
                await asyncio.wait_for(self._votes_answered.wait(), timeout)
            except TimeoutError:
                pass
        counters_after = self.counters()
        return {
            "indices": [phone.index for phone in phones],
            "sent": [phone.vote_sent for phone in phones],
            "acked": [phone.vote_acked for phone in phones],
            "seqs": [phone.vote_seq for phone in phones],
            "errors": [phone.vote_error for phone in phones if phone.vote_error],
            "send_failures": send_failures,
            "send_finished": sent,
            "client": clock.result(),
            "counters": {k: counters_after[k] - counters_before[k] for k in counters_after},
        }

    def arm_reveal(self, round_number: int) -> None:
        self._reveal_clock = PhaseClock()
        self._reveal_counters = self.counters()
        phones = self._connected()
        for phone in phones:
            phone.reveal_round = round_number
            phone.reveal_received = 0.0
        self._reveals_outstanding = len(phones)
        self._reveals_arrived.clear()

    async def collect_reveal(self, timeout: float) -> dict:
        """Wait until every phone has the revealed view, then return the receive times."""
        clock = self._reveal_clock
        counters_before = self._reveal_counters
        if self._reveals_outstanding > 0:
            try:
                await asyncio.wait_for(self._reveals_arrived.wait(), timeout)
            except TimeoutError:
                pass
        phones = self._connected()
        received = [phone.reveal_received for phone in phones]
        for phone in phones:
            phone.reveal_round = 0
        counters_after = self.counters()
        return {
            "indices": [phone.index for phone in phones],
            "received": received,
            "client": clock.result(),
            "counters": {k: counters_after[k] - counters_before[k] for k in counters_after},
        }

    async def close_all(self) -> None:
        sockets = [phone.socket for phone in self.phones if phone.socket is not None]
        for socket in sockets:
            socket.transport.abort()
        readers = [phone.reader for phone in self.phones if phone.reader is not None]
        if readers:
            await asyncio.wait(readers, timeout=5)


def run_worker(pipe: Pipe, url: str, codes: list[str], indices: list[int], options: dict) -> None:
    """Serve the controller's commands in a worker process until told to close."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the controller decides when to stop
    raise_open_file_limit(len(indices) + 100)
    if options["uvloop"]:
        import uvloop

        uvloop.install()
    gc.set_threshold(50_000, 50, 1000)
    asyncio.run(_serve_worker(pipe, url, codes, indices, options))


async def _serve_worker(
    pipe: Pipe, url: str, codes: list[str], indices: list[int], options: dict
) -> None:
    worker = PhoneWorker(url, codes, indices, options)
    loop = asyncio.get_running_loop()
    commands: asyncio.Queue[tuple] = asyncio.Queue()
    loop.add_reader(pipe.fileno(), lambda: commands.put_nowait(pipe.recv()))
    while True:
        command, *arguments = await commands.get()
        if command == "connect":
            pipe.send(await worker.connect_all(*arguments))
        elif command == "vote":
            pipe.send(await worker.vote(*arguments))
        elif command == "arm_reveal":
            worker.arm_reveal(*arguments)
            pipe.send("armed")
        elif command == "collect_reveal":
            pipe.send(await worker.collect_reveal(*arguments))
        elif command == "close":
            await worker.close_all()
            pipe.send("closed")
            return


def raise_open_file_limit(needed: int) -> int:
    """Raise this process's soft open-file limit to at least ``needed``, up to the hard limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        soft = wanted
    if soft != resource.RLIM_INFINITY and soft < needed:
        raise SystemExit(
            f"The open-file limit is {soft} (hard limit {hard}), but {needed} files are needed; "
            "raise the hard limit (ulimit -Hn) or use fewer phones."
        )
    return soft


# The controller: console, projector and stall probe ----------------------------------------


class Observer:
    """One websocket of the controller: the console, the projector or the stall probe."""

    def __init__(self, name: str, socket: ClientConnection) -> None:
        self.name = name
        self.socket = socket
        self.replies: dict[int, asyncio.Future[tuple[float, Reply]]] = {}
        self.views: list[tuple[float, int, int, str, int]] = []
        """Projector only: (received, seq, latest round, its status, its voted total)."""
        self.probe_timeouts = 0
        self.probe_reconnects = 0
        self.probe_results: list[tuple[float, float]] = []
        """Probe only: (sent, round-trip seconds) per answered probe."""
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            while True:
                data = await self.socket.recv(decode=False)
                received = time.monotonic()
                if data.startswith(ROOM_PREFIX) and self.name == "projector":
                    view = room_decoder.decode(data).view
                    if view is not None and view.rounds:
                        latest = view.rounds[-1]
                        total = sum(entry.count for entry in latest.voted)
                        self.views.append((received, view.seq, latest.number, latest.status, total))
                    elif view is not None:
                        self.views.append((received, view.seq, 0, "", 0))
                elif data.startswith(ACK_PREFIX) or data.startswith(ERROR_PREFIX):
                    reply = reply_decoder.decode(data)
                    if reply.ref is None:
                        continue
                    future = self.replies.pop(reply.ref, None)
                    if future is not None and not future.done():
                        future.set_result((received, reply))
        except ConnectionClosed:
            return

    async def request(self, message: dict, ref: int, timeout: float) -> tuple[float, float, Reply]:
        """Send a message with ``ref``; return when it was sent, when answered, and the answer."""
        future: asyncio.Future[tuple[float, Reply]] = asyncio.get_running_loop().create_future()
        self.replies[ref] = future
        sent = time.monotonic()
        await self.socket.send(json.dumps({**message, "ref": ref}))
        received, reply = await asyncio.wait_for(future, timeout)
        return sent, received, reply

    async def probe(self, stop: asyncio.Event, reopen: Callable[[], Awaitable[Observer]]) -> None:
        """Send a message that the server rejects at once, every ``PROBE_INTERVAL`` seconds.

        The socket never joins, so each vote gets ``not_joined`` straight from the
        receive loop without touching the store, and its round trip shows how long the
        server's event loop took to get to it. One probe is in flight at a time, so a
        stall shows as one long round trip rather than as a queue of probes. When the
        server closes the socket, the probe counts it and opens another.
        """
        ref = 0
        next_at = time.monotonic()
        prober = self
        while not stop.is_set():
            ref += 1
            now = time.monotonic()
            future: asyncio.Future[tuple[float, Reply]] = asyncio.get_running_loop().create_future()
            prober.replies[ref] = future
            try:
                await prober.socket.send(f'{{"type":"vote","round":1,"level":1,"ref":{ref}}}')
                received, _ = await asyncio.wait_for(future, PROBE_TIMEOUT)
                self.probe_results.append((now, received - now))
            except TimeoutError:
                self.probe_results.append((now, PROBE_TIMEOUT))
                self.probe_timeouts += 1
            except ConnectionClosed:
                self.probe_reconnects += 1
                prober = await reopen()
            next_at = max(next_at + PROBE_INTERVAL, time.monotonic())
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))


LAG_TICK = 0.005
"""Seconds between two wake-ups of the generator's own lag monitor."""


async def monitor_loop_lag(lags: list[tuple[float, float]], stop: asyncio.Event) -> None:
    """Record (time, seconds late) whenever this process's event loop wakes over 2 ms late."""
    while not stop.is_set():
        expected = time.monotonic() + LAG_TICK
        await asyncio.sleep(LAG_TICK)
        woke = time.monotonic()
        if woke - expected > 0.002:
            lags.append((woke, woke - expected))


def stall_summary(
    probe: Observer, lags: list[tuple[float, float]], start: float, end: float
) -> dict:
    """Summarise the probe's round trips sent between ``start`` and ``end``.

    A round trip also grows when the generator's own event loop is late, so the server's
    share is estimated as the round trip minus the longest lateness of the generator's
    loop while that probe was in flight.
    """
    results = [(sent, rtt) for sent, rtt in probe.probe_results if start <= sent < end]
    answered_at = sorted(sent + rtt for sent, rtt in results)
    gaps = [b - a for a, b in zip(answered_at, answered_at[1:], strict=False)]
    lag_times = [woke for woke, _ in lags]
    server_rtts = []
    for sent, rtt in results:
        first = bisect_left(lag_times, sent)
        last = bisect_left(lag_times, sent + rtt + 2 * LAG_TICK)
        generator_lag = max((late for _, late in lags[first:last]), default=0.0)
        server_rtts.append(max(0.0, rtt - generator_lag))
    window_lags = [late for woke, late in lags if start <= woke < end]
    return {
        "probes": len(results),
        "generator_max_lateness_ms": (round(max(window_lags) * 1000, 1) if window_lags else 0.0),
        "rtt_ms": summarise_ms([rtt for _, rtt in results]),
        "server_rtt_ms": summarise_ms(server_rtts),
        "max_reply_gap_ms": round(max(gaps) * 1000, 1) if gaps else None,
        "over_100ms": sum(1 for rtt in server_rtts if rtt * 1000 > STALL_THRESHOLD_MS),
    }


@dataclass
class WorkerHandle:
    process: multiprocessing.Process
    pipe: Pipe
    count: int


class Controller:
    """Runs the phases and gathers the figures into one result."""

    def __init__(self, arguments: argparse.Namespace) -> None:
        self.arguments = arguments
        self.pid: int = arguments.server_pid
        self.workshops: list[dict] = arguments.workshop_list
        """Each workshop's ``workshop`` id, join ``code`` and facilitator ``token``."""
        self.workers: list[WorkerHandle] = []
        self.result: dict[str, Any] = {
            "label": arguments.label,
            "phones": arguments.phones,
            "workshops": len(arguments.workshop_list),
            "deflate": arguments.deflate,
            "phone_processes": arguments.phone_processes,
            "rounds": [],
        }
        self.consoles: list[Observer] = []
        self.projectors: list[Observer] = []
        """One console and one projector per workshop, in the order of ``self.workshops``."""
        self.prober: Observer | None = None
        self.console_ref = 100
        self.profiler: subprocess.Popen[bytes] | None = None
        self.joined = 0
        self.started = time.monotonic()
        self.loop_lags: list[tuple[float, float]] = []
        """(time, seconds late) of each late wake-up of this process's event loop."""
        self.phase_windows: list[tuple[str, float, float]] = []
        """(name, start, end) of each measured phase, for the stall summaries."""

    # Workers

    def start_workers(self) -> None:
        arguments = self.arguments
        context = multiprocessing.get_context("spawn")
        options = {
            "deflate": arguments.deflate,
            "staff_share": arguments.staff_share,
            "uvloop": arguments.uvloop,
        }
        codes = [workshop["code"] for workshop in self.workshops]
        count = arguments.phone_processes
        for number in range(count):
            indices = list(range(number, arguments.phones, count))
            ours, theirs = context.Pipe()
            process = context.Process(
                target=run_worker,
                args=(theirs, arguments.url, codes, indices, options),
                name=f"phones-{number}",
                daemon=True,
            )
            process.start()
            self.workers.append(WorkerHandle(process, ours, len(indices)))
            GENERATOR_PIDS.append(process.pid)

    async def ask_workers(self, command: tuple, timeout: float) -> list[Any]:
        """Send one command to every worker and return their answers, in worker order."""
        loop = asyncio.get_running_loop()
        for worker in self.workers:
            worker.pipe.send(command)
        answers = [loop.run_in_executor(None, worker.pipe.recv) for worker in self.workers]
        try:
            return list(await asyncio.wait_for(asyncio.gather(*answers), timeout))
        except TimeoutError:
            raise SystemExit(
                f"phone workers did not answer {command[0]!r} within {timeout:.0f} s"
            ) from None

    def stop_workers(self) -> None:
        for worker in self.workers:
            worker.process.join(timeout=5)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join(timeout=5)

    # Observers

    async def open_observers(self) -> None:
        arguments = self.arguments
        compression = "deflate" if arguments.deflate else None

        async def open_socket(name: str) -> Observer:
            socket = await connect(
                arguments.url,
                compression=compression,
                proxy=None,
                open_timeout=10,
                ping_interval=None,
                max_size=2**22,
            )
            return Observer(name, socket)

        for workshop in self.workshops:
            console = await open_socket("console")
            projector = await open_socket("projector")
            control = {
                "type": "control",
                "workshop": workshop["workshop"],
                "token": workshop["token"],
            }
            _, _, reply = await console.request(control, 1, 10)
            if reply.type != "ack":
                raise SystemExit(
                    f"The server rejected the facilitator token of workshop "
                    f"{workshop['workshop']}: {reply.code}"
                )
            watch = {"type": "watch", "workshop": workshop["workshop"]}
            _, _, reply = await projector.request(watch, 1, 10)
            if reply.type != "ack":
                raise SystemExit(
                    f"The server rejected the projector of workshop {workshop['workshop']}: "
                    f"{reply.code}"
                )
            self.consoles.append(console)
            self.projectors.append(projector)
        self.prober = await self.open_prober()

    async def open_prober(self) -> Observer:
        """Open a socket for the stall probe, which keeps its figures on the first one."""
        socket = await connect(
            self.arguments.url,
            compression="deflate" if self.arguments.deflate else None,
            proxy=None,
            open_timeout=30,
            ping_interval=None,
        )
        return Observer("probe", socket)

    async def command_all(self, message: dict, timeout: float) -> list[tuple[float, float]]:
        """Send ``message`` from every workshop's console at once.

        Returns (sent, acked) per workshop, in the order of ``self.workshops``.
        """
        self.console_ref += 1
        answers = await asyncio.gather(
            *(console.request(message, self.console_ref, timeout) for console in self.consoles)
        )
        for workshop, (_, _, reply) in zip(self.workshops, answers, strict=True):
            if reply.type != "ack":
                raise SystemExit(
                    f"The server rejected {message['type']} in workshop "
                    f"{workshop['workshop']}: {reply.code}"
                )
        return [(sent, received) for sent, received, _ in answers]

    async def wait_for_quiet_cores(self, phase: str) -> None:
        """Hold a phase back while other programs keep the benchmark's cores busy."""
        waited = await wait_until_others_quiet(self.pid, self.arguments.quiet_wait)
        if waited is None:
            print(
                f"[{self.arguments.label}] other programs still use the benchmark's cores "
                f"after {self.arguments.quiet_wait:.0f} s; starting {phase} anyway",
                flush=True,
            )
        self.result.setdefault("quiet_waits_s", {})[phase] = (
            None if waited is None else round(waited, 1)
        )

    # Profiling

    def start_profiler(self, name: str) -> None:
        directory = self.arguments.profile_dir
        if directory is None:
            return
        output = Path(directory) / f"{self.arguments.label}-{name}.txt"
        self.profiler = subprocess.Popen(
            [
                self.arguments.py_spy,
                "record",
                "--pid",
                str(self.pid),
                "--rate",
                "200",
                "--format",
                "raw",
                "--threads",
                "--gil",
                # With several workers the server's pid is uvicorn's supervisor.
                "--subprocesses",
                "--output",
                str(output),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    async def stop_profiler(self) -> None:
        if self.profiler is None:
            return
        self.profiler.send_signal(signal.SIGINT)
        loop = asyncio.get_running_loop()
        try:
            await asyncio.wait_for(loop.run_in_executor(None, self.profiler.wait), 30)
        except TimeoutError:
            self.profiler.kill()
        self.profiler = None

    # Phases

    async def run(self) -> dict:
        arguments = self.arguments
        self.start_workers()
        await self.open_observers()
        assert self.prober is not None
        stop_probe = asyncio.Event()
        probe_task = asyncio.create_task(self.prober.probe(stop_probe, self.open_prober))
        lag_task = asyncio.create_task(monitor_loop_lag(self.loop_lags, stop_probe))
        try:
            await self.connect_phase()
            for round_number in range(1, arguments.rounds + 1):
                await self.round_phase(round_number)
        finally:
            stop_probe.set()
            await asyncio.wait({probe_task, lag_task}, timeout=2)
        # Summarised only now, so that answers that came in after a phase ended count.
        self.result["stalls"] = {
            "whole_run": stall_summary(self.prober, self.loop_lags, 0.0, time.monotonic()),
            "phases": {
                name: stall_summary(self.prober, self.loop_lags, start, end)
                for name, start, end in self.phase_windows
            },
            "threshold_ms": STALL_THRESHOLD_MS,
            "probe_timeouts": self.prober.probe_timeouts,
            "probe_reconnects": self.prober.probe_reconnects,
            "timeline": [
                [round(sent - self.started, 3), round(rtt * 1000, 1)]
                for sent, rtt in self.prober.probe_results
            ],
        }
        await self.ask_workers(("close",), 30)
        self.stop_workers()
        return self.result

    async def connect_phase(self) -> None:
        arguments = self.arguments
        await wait_until_server_quiet(self.pid, 10)
        await self.wait_for_quiet_cores("connect")
        before = read_server_usage(self.pid)
        per_worker = max(1, arguments.connect_concurrency // len(self.workers))
        self.start_profiler("connect")
        if self.profiler is not None:
            await asyncio.sleep(1.0)  # py-spy needs a moment to attach
        start_at = time.monotonic() + 0.2
        answers = await self.ask_workers(
            ("connect", start_at, per_worker, arguments.connect_timeout),
            arguments.connect_timeout + 30,
        )
        after_connect = read_server_usage(self.pid)
        await self.stop_profiler()
        join_times = sorted(value for answer in answers for value in answer["join_times"])
        handshakes = [value for answer in answers for value in answer["handshakes"]]
        joins = [value for answer in answers for value in answer["joins"]]
        finished = max(answer["finished"] for answer in answers)
        joined = len(joins)
        wall = finished - start_at
        self.phase_windows.append(("connect", start_at, finished))
        settle = await wait_until_server_quiet(self.pid, 30)
        idle = read_server_usage(self.pid)
        cpu = usage_between(before, after_connect, self.pid)
        self.result["connect"] = {
            "joined": joined,
            "failures": sum(answer["failure_count"] for answer in answers),
            "failure_samples": [text for answer in answers for text in answer["failures"]][:5],
            "seconds": round(wall, 3),
            "joins_per_s": round(joined / wall, 1) if wall > 0 else None,
            "handshake_ms": summarise_ms(handshakes),
            "join_ack_ms": summarise_ms(joins),
            "seconds_to_share_joined": {
                f"{share}%": round(join_times[len(join_times) * share // 100 - 1] - start_at, 2)
                for share in (10, 25, 50, 75, 90, 100)
                if len(join_times) * share // 100 >= 1
            },
            "server": cpu,
            "server_cpu_us_per_join": round(cpu["cpu_s"] / joined * 1e6, 1) if joined else None,
            "settle_s": round(settle, 2),
            "client": [answer["client"] for answer in answers],
            "phone_messages": sum(answer["counters"]["messages"] for answer in answers),
        }
        self.result["memory"] = {
            "rss_before_kb": before.rss_kb,
            "rss_after_kb": idle.rss_kb,
            "kb_per_phone": round((idle.rss_kb - before.rss_kb) / joined, 2) if joined else None,
            "server_threads": idle.threads,
        }
        self.joined = joined
        print(
            f"[{arguments.label}] {joined} phones joined in {wall:.2f} s "
            f"({self.result['connect']['joins_per_s']}/s); "
            f"RSS {before.rss_kb} -> {idle.rss_kb} KB",
            flush=True,
        )

    async def round_phase(self, round_number: int) -> None:
        """Open a round, have every phone vote once and reveal it.

        Round 1 spreads the votes over ``--paced-seconds``, round 2 sends them all at
        once, and later rounds spread them over ``--burst-seconds``.
        """
        arguments = self.arguments
        assert self.prober is not None
        burst = round_number > 1
        if round_number == 1:
            mode, window = "paced", arguments.paced_seconds
        elif round_number == 2:
            mode, window = "burst", 0.0
        else:
            mode, window = f"burst over {arguments.burst_seconds:g} s", arguments.burst_seconds
        round_result: dict[str, Any] = {"round": round_number, "mode": mode}
        await self.command_all({"type": "open_round", "item": ITEM}, arguments.phase_timeout)
        await wait_until_server_quiet(self.pid, 15)
        await self.wait_for_quiet_cores(f"round {round_number} votes")

        # Votes
        spacing = window / max(1, arguments.phones)
        if burst:
            self.start_profiler(f"burst-{round_number}")
            if self.profiler is not None:
                await asyncio.sleep(1.0)  # py-spy needs a moment to attach
        before = read_server_usage(self.pid)
        start_at = time.monotonic() + 0.3
        answers = await self.ask_workers(
            ("vote", round_number, start_at, spacing, arguments.phones, arguments.phase_timeout),
            arguments.phase_timeout + 30,
        )
        after_votes = read_server_usage(self.pid)
        expected = [0] * len(self.workshops)
        for answer in answers:
            for index in answer["indices"]:
                expected[index % len(self.workshops)] += 1
        full_count_at = await self.wait_for_projectors(round_number, expected, 10.0)
        await self.stop_profiler()
        round_result["votes"] = self.vote_figures(answers, before, after_votes, full_count_at)
        self.phase_windows.append((f"round {round_number} votes", start_at, time.monotonic()))

        # Reveal
        await wait_until_server_quiet(self.pid, 15)
        await self.wait_for_quiet_cores(f"round {round_number} reveal")
        self.start_profiler(f"reveal-{round_number}")
        if self.profiler is not None:
            await asyncio.sleep(1.0)
        await self.ask_workers(("arm_reveal", round_number), 30)
        views_before = [len(projector.views) for projector in self.projectors]
        before = read_server_usage(self.pid)
        commands = await self.command_all(
            {"type": "reveal", "round": round_number}, arguments.phase_timeout
        )
        answers = await self.ask_workers(
            ("collect_reveal", arguments.phase_timeout), arguments.phase_timeout + 30
        )
        after_reveal = read_server_usage(self.pid)
        await self.stop_profiler()
        round_result["reveal"] = self.reveal_figures(
            answers, commands, before, after_reveal, round_number, views_before
        )
        first_sent = min(sent for sent, _ in commands)
        self.phase_windows.append((f"round {round_number} reveal", first_sent, time.monotonic()))
        self.result["rounds"].append(round_result)
        votes, reveal = round_result["votes"], round_result["reveal"]
        print(
            f"[{arguments.label}] round {round_number} ({round_result['mode']}): "
            f"ack p50/p99 {votes['ack_ms']['p50']}/{votes['ack_ms']['p99']} ms, "
            f"full count {votes['last_vote_to_full_count_ms']} ms after the last vote; "
            f"reveal p50/p99/max {reveal['ms']['p50']}/{reveal['ms']['p99']}/"
            f"{reveal['ms']['max']} ms to {reveal['ms']['count']} phones",
            flush=True,
        )

    async def wait_for_projectors(
        self, round_number: int, expected: list[int], timeout: float
    ) -> list[float]:
        """Wait until each workshop's projector shows that workshop's ``expected`` votes.

        Returns the time each projector first did, or 0.0 for one that did not in time.
        """
        deadline = time.monotonic() + timeout
        full_count_at = [0.0] * len(self.projectors)
        while True:
            for number, projector in enumerate(self.projectors):
                if full_count_at[number]:
                    continue
                for received, _, view_round, _, total in reversed(projector.views):
                    if view_round == round_number and total >= expected[number]:
                        full_count_at[number] = received
                        break
            if all(full_count_at) or time.monotonic() >= deadline:
                return full_count_at
            await asyncio.sleep(0.01)

    def vote_figures(
        self,
        answers: list[dict],
        before: ServerUsage,
        after: ServerUsage,
        full_count_at: list[float],
    ) -> dict:
        workshop_count = len(self.workshops)
        indices = [value for answer in answers for value in answer["indices"]]
        sent = [value for answer in answers for value in answer["sent"]]
        acked = [value for answer in answers for value in answer["acked"]]
        seqs = [value for answer in answers for value in answer["seqs"]]
        errors = [code for answer in answers for code in answer["errors"]]

        # A vote shows on its workshop's projector from the first view whose seq reaches
        # the seq in the vote's ack (each workshop numbers its events on its own).
        running_max: list[list[int]] = []
        for projector in self.projectors:
            highest: list[int] = []
            for _, seq, _, _, _ in projector.views:
                highest.append(max(seq, highest[-1]) if highest else seq)
            running_max.append(highest)
        ack_by_workshop: list[list[float]] = [[] for _ in range(workshop_count)]
        projector_by_workshop: list[list[float]] = [[] for _ in range(workshop_count)]
        sent_by_workshop: list[list[float]] = [[] for _ in range(workshop_count)]
        for index, vote_sent, vote_acked, seq in zip(indices, sent, acked, seqs, strict=True):
            number = index % workshop_count
            if vote_sent:
                sent_by_workshop[number].append(vote_sent)
            if not (vote_acked and seq):
                continue
            ack_by_workshop[number].append(vote_acked - vote_sent)
            position = bisect_left(running_max[number], seq)
            views = self.projectors[number].views
            if position < len(views):
                projector_by_workshop[number].append(views[position][0] - vote_sent)

        per_workshop = []
        for number in range(workshop_count):
            last_in_workshop = max(sent_by_workshop[number], default=0.0)
            full_at = full_count_at[number]
            per_workshop.append(
                {
                    "workshop": self.workshops[number]["workshop"],
                    "votes": len(sent_by_workshop[number]),
                    "acked": len(ack_by_workshop[number]),
                    "ack_ms": summarise_ms(ack_by_workshop[number]),
                    "projector_ms": summarise_ms(projector_by_workshop[number]),
                    "last_vote_to_full_count_ms": (
                        round((full_at - last_in_workshop) * 1000, 1)
                        if full_at and last_in_workshop
                        else None
                    ),
                }
            )

        ack_latencies = [value for values in ack_by_workshop for value in values]
        projector_latencies = [value for values in projector_by_workshop for value in values]
        real_sent = [value for value in sent if value]
        first_sent = min(real_sent) if real_sent else 0.0
        last_sent = max(real_sent) if real_sent else 0.0
        last_acked = max(acked) if acked else 0.0
        # Over all workshops, the full count is the moment the last projector showed it.
        all_full_at = max(full_count_at) if all(full_count_at) else 0.0
        server = usage_between(before, after, self.pid)
        answered = len(ack_latencies)
        return {
            "votes": len(real_sent),
            "acked": answered,
            "errors": len(errors),
            "error_codes": sorted(set(errors)),
            "send_window_ms": round((last_sent - first_sent) * 1000, 1),
            "ack_ms": summarise_ms(ack_latencies),
            "first_vote_to_last_ack_ms": round((last_acked - first_sent) * 1000, 1),
            "projector_ms": summarise_ms(projector_latencies),
            "last_vote_to_full_count_ms": (
                round((all_full_at - last_sent) * 1000, 1) if all_full_at else None
            ),
            "per_workshop": per_workshop,
            "server": server,
            "server_cpu_us_per_vote": (
                round(server["cpu_s"] / answered * 1e6, 1) if answered else None
            ),
            "client": [answer["client"] for answer in answers],
            "phone_room_views": sum(answer["counters"]["room_views"] for answer in answers),
            "phone_bytes": sum(answer["counters"]["bytes"] for answer in answers),
        }

    def reveal_figures(
        self,
        answers: list[dict],
        commands: list[tuple[float, float]],
        before: ServerUsage,
        after: ServerUsage,
        round_number: int,
        views_before: list[int],
    ) -> dict:
        """Summarise a reveal sent in every workshop at once.

        Each phone's latency counts from the moment its own workshop's console sent
        ``reveal``; phones/s counts from the first console's send to the last phone.
        """
        workshop_count = len(self.workshops)
        indices = [value for answer in answers for value in answer["indices"]]
        received = [value for answer in answers for value in answer["received"]]
        by_workshop: list[list[float]] = [[] for _ in range(workshop_count)]
        missing_by_workshop = [0] * workshop_count
        for index, value in zip(indices, received, strict=True):
            number = index % workshop_count
            if value:
                by_workshop[number].append(value - commands[number][0])
            else:
                missing_by_workshop[number] += 1

        per_workshop = []
        projector_latencies = []
        for number, (sent, acked) in enumerate(commands):
            projector_at = next(
                (
                    view[0]
                    for view in self.projectors[number].views[views_before[number] :]
                    if view[2] == round_number and view[3] == "revealed"
                ),
                0.0,
            )
            projector_ms = round((projector_at - sent) * 1000, 2) if projector_at else None
            projector_latencies.append(projector_ms)
            per_workshop.append(
                {
                    "workshop": self.workshops[number]["workshop"],
                    "ms": summarise_ms(by_workshop[number]),
                    "missing": missing_by_workshop[number],
                    "ack_ms": round((acked - sent) * 1000, 2),
                    "projector_ms": projector_ms,
                }
            )

        latencies = [value for values in by_workshop for value in values]
        first_sent = min(sent for sent, _ in commands)
        last_received = max((value for value in received if value), default=0.0)
        span = last_received - first_sent if last_received else 0.0
        server = usage_between(before, after, self.pid)
        deliveries = len(latencies)
        return {
            "ms": summarise_ms(latencies),
            "missing": sum(missing_by_workshop),
            "ack_ms": max(round((acked - sent) * 1000, 2) for sent, acked in commands),
            "projector_ms": (
                None if None in projector_latencies else max(projector_latencies)  # type: ignore[type-var]
            ),
            "phones_per_s": round(deliveries / span, 1) if span > 0 else None,
            "per_workshop": per_workshop,
            "server": server,
            "server_cpu_us_per_phone": (
                round(server["cpu_s"] / deliveries * 1e6, 1) if deliveries else None
            ),
            "client": [answer["client"] for answer in answers],
            "phone_room_views": sum(answer["counters"]["room_views"] for answer in answers),
        }


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="websocket URL, e.g. ws://127.0.0.1:8000/ws")
    parser.add_argument("--workshop", help="workshop id")
    parser.add_argument("--code", help="join code of the workshop")
    parser.add_argument("--token", help="facilitator token of the workshop")
    parser.add_argument(
        "--workshops-file",
        type=Path,
        help="JSON list of workshops, each with workshop, code and token, in place of "
        "--workshop, --code and --token; phone i joins workshop i modulo their number",
    )
    parser.add_argument("--server-pid", type=int, required=True, help="pid to read from /proc")
    parser.add_argument(
        "--store-pid",
        type=int,
        action="append",
        default=[],
        help="pid of a store process (redis-server) counted with the server; may repeat",
    )
    parser.add_argument("--phones", type=int, default=500, help="phones to connect (default 500)")
    parser.add_argument("--label", default="server", help="name of the server in the output")
    parser.add_argument(
        "--phone-processes",
        type=int,
        default=1,
        help="worker processes that share the phones (default 1)",
    )
    parser.add_argument(
        "--connect-concurrency",
        type=int,
        default=100,
        help="phones connecting and joining at once, over all workers (default 100)",
    )
    parser.add_argument(
        "--staff-share", type=float, default=0.3, help="share of phones joining as staff"
    )
    parser.add_argument(
        "--paced-seconds",
        type=float,
        default=5.0,
        help="seconds over which round 1's votes are spread evenly (default 5)",
    )
    parser.add_argument(
        "--burst-seconds",
        type=float,
        default=1.0,
        help="seconds over which the votes of round 3 and later spread evenly (default 1)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="rounds to run: round 1 paced, round 2 all at once, later ones over "
        "--burst-seconds (default 3)",
    )
    parser.add_argument(
        "--no-deflate",
        dest="deflate",
        action="store_false",
        help="do not offer permessage-deflate (browsers offer it, so it is on by default)",
    )
    parser.add_argument(
        "--no-uvloop", dest="uvloop", action="store_false", help="use asyncio's own event loop"
    )
    parser.add_argument(
        "--phase-timeout", type=float, default=120.0, help="seconds allowed for each phase"
    )
    parser.add_argument(
        "--connect-timeout",
        type=float,
        default=600.0,
        help="seconds allowed for all phones to connect and join (default 600)",
    )
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=120.0,
        help="seconds each phase waits at most for other programs to leave the server's and "
        "the generator's cores idle (default 120)",
    )
    parser.add_argument("--out", type=Path, required=True, help="JSON file to write")
    parser.add_argument(
        "--profile-dir",
        type=Path,
        help="record the server with py-spy during each vote burst and reveal into this folder",
    )
    parser.add_argument(
        "--py-spy",
        default=str(Path(sys.executable).with_name("py-spy")),
        help="path of the py-spy program",
    )
    arguments = parser.parse_args(argv)
    if arguments.workshops_file is not None:
        arguments.workshop_list = json.loads(arguments.workshops_file.read_text())
        if not arguments.workshop_list:
            parser.error(f"--workshops-file {arguments.workshops_file} lists no workshops")
    elif arguments.workshop and arguments.code and arguments.token:
        arguments.workshop_list = [
            {"workshop": arguments.workshop, "code": arguments.code, "token": arguments.token}
        ]
    else:
        parser.error("pass --workshop, --code and --token, or --workshops-file")
    return arguments


def main(argv: Sequence[str] | None = None) -> None:
    arguments = parse_arguments(argv)
    if not arguments.url.startswith(("ws://127.", "ws://localhost:", "ws://[::1]:")):
        raise SystemExit(f"--url must point at this machine (127.0.0.0/8), not {arguments.url}")
    if arguments.phones < 1:
        raise SystemExit("--phones must be at least 1")
    raise_open_file_limit(100 + arguments.phones // max(1, arguments.phone_processes))
    if arguments.uvloop:
        import uvloop

        uvloop.install()
    STORE_PIDS.extend(arguments.store_pid)
    controller = Controller(arguments)
    started = time.monotonic()
    try:
        result = asyncio.run(
            asyncio.wait_for(
                controller.run(),
                arguments.connect_timeout + arguments.phase_timeout * (4 + 3 * arguments.rounds),
            )
        )
    finally:
        for worker in controller.workers:
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join(timeout=5)
    result["seconds"] = round(time.monotonic() - started, 1)
    arguments.out.write_text(json.dumps(result, indent=2))
    print(f"[{arguments.label}] wrote {arguments.out}", flush=True)


if __name__ == "__main__":
    main()
