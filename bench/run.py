"""Benchmark the product server against the websockets-only baseline in one run.

For each server this starts it pinned to CPU 0, creates a workshop, runs
``bench/loadgen.py`` pinned to CPU 1 against it, stops the server and keeps the
generator's JSON. With ``--redis-workers N`` the product runs N workers on a Redis
server that this script starts on CPU 0 too, and ``--workshops W`` spreads the phones
over W workshops. It then prints a Markdown table of both servers' figures, the
product-to-baseline ratios and the targets, and with ``--record`` appends that table,
the command, the commit and the machine to a Markdown file.

Example: ``.venv/bin/python bench/run.py --phones 2000 --record docs/benchmarks.md``
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from loadgen import core_busy_seconds, raise_open_file_limit  # noqa: E402
from profile_summary import summarise_profile  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
SERVER_CPU = "0"
GENERATOR_CPU = "1"
READY_TIMEOUT = 30.0
BASELINE_WORKSHOP = ("baseline", "BENCH1", "baseline-facilitator-token")

# Targets for one process on one core with the embedded store, at 10,000 phones.
TARGET_ACK_P99_MS = 250.0
TARGET_FULL_COUNT_MS = 250.0
TARGET_REVEAL_MAX_MS = 500.0
TARGET_REVEAL_THROUGHPUT_RATIO = 0.8
TARGET_KB_PER_PHONE = 25.0
TARGET_STALL_MS = 100.0


def wait_for_quiet_machine(timeout: float) -> float | None:
    """Wait until every CPU is under 10 % busy for a whole second.

    Returns the seconds waited, or ``None`` when the machine stayed busy for ``timeout``.
    """
    started = time.monotonic()
    previous = core_busy_seconds()
    while time.monotonic() - started < timeout:
        time.sleep(1.0)
        current = core_busy_seconds()
        if all(current[core][0] - previous[core][0] < 0.1 for core in current):
            return time.monotonic() - started
        previous = current
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def pinned(cpu: str, command: list[str], pin: bool) -> list[str]:
    return ["taskset", "-c", cpu, *command] if pin else command


class Server:
    """A server process started by this script and the log it writes."""

    def __init__(
        self, label: str, command: list[str], env: dict[str, str], log: Path, cwd: Path = ROOT
    ) -> None:
        self.label = label
        self.log = log
        self._log_file = log.open("wb")
        # taskset execs the server, so the pid is the server's own.
        self.process = subprocess.Popen(
            command, env=env, cwd=cwd, stdout=self._log_file, stderr=subprocess.STDOUT
        )

    def wait_ready(self, marker: str, count: int = 1) -> None:
        """Wait until the log contains ``marker`` ``count`` times, e.g. once per worker."""
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(
                    f"The {self.label} server exited with code {self.process.returncode} "
                    f"before it was ready; see {self.log}"
                )
            if self.log.read_text(errors="replace").count(marker) >= count:
                return
            time.sleep(0.1)
        self.stop()
        raise SystemExit(
            f"The {self.label} server did not print {marker!r} {count} time(s) within "
            f"{READY_TIMEOUT:.0f} s; see {self.log}"
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._log_file.close()


def export_commit(revision: str, folder: Path) -> str:
    """Write the files of ``revision`` into ``folder`` and return its short commit id.

    The product then runs from this copy, so edits made to the work tree while the
    benchmark runs cannot change what is measured.
    """
    resolved = subprocess.run(
        ["git", "rev-parse", "--short", f"{revision}^{{commit}}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if resolved.returncode != 0:
        raise SystemExit(f"--commit {revision!r} is not a commit: {resolved.stderr.strip()}")
    archive = subprocess.Popen(["git", "archive", revision], cwd=ROOT, stdout=subprocess.PIPE)
    subprocess.run(["tar", "-x", "-C", str(folder)], stdin=archive.stdout, check=True)
    if archive.wait() != 0:
        raise SystemExit(f"git archive {revision} failed")
    return resolved.stdout.strip()


def work_tree_description() -> str:
    """Return HEAD's short id, noting uncommitted changes to the server's files."""
    changed = subprocess.run(
        ["git", "status", "--porcelain", "--", "server", "rubric", "pyproject.toml"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return f"{commit()} plus uncommitted changes" if changed else commit()


def start_redis(port: int, folder: Path, log: Path, pin: bool) -> Server:
    """Start a Redis server of the benchmark's own that fsyncs every write before it replies.

    ``appendfsync always`` is the production setting in docs/deployment.md, so a vote is
    acked only once it is on disk, as with the embedded store.
    """
    command = pinned(
        SERVER_CPU,
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--maxmemory-policy",
            "noeviction",
            "--dir",
            str(folder),
        ],
        pin,
    )
    server = Server("redis", command, dict(os.environ), log)
    server.wait_ready("Ready to accept connections")
    return server


def start_product(
    port: int,
    data_dir: Path,
    source: Path,
    log: Path,
    pin: bool,
    workshop_count: int = 1,
    redis_url: str | None = None,
    workers: int = 1,
    deflate: bool = False,
) -> tuple[Server, list[dict]]:
    env = {**os.environ, "DATA_DIR": str(data_dir)}
    env["WS_PER_MESSAGE_DEFLATE"] = "true" if deflate else "false"
    command = [PYTHON, "-m", "server", "--port", str(port)]
    if redis_url is not None:
        env["REDIS_URL"] = redis_url
        command += ["--workers", str(workers)]
    server = Server("product", pinned(SERVER_CPU, command, pin), env, log, cwd=source)
    server.wait_ready("Uvicorn running on")
    if redis_url is not None:
        server.wait_ready("Application startup complete", workers)
    request = {
        "title": "Bench",
        "scope": "institution",
        "unit": "Bench",
        "small_group_threshold": 1,
    }
    workshops = []
    for _ in range(workshop_count):
        try:
            response = httpx.post(
                f"http://127.0.0.1:{port}/api/workshops", json=request, timeout=10
            )
            response.raise_for_status()
        except httpx.HTTPError as error:
            server.stop()
            raise SystemExit(f"Creating workshop {len(workshops) + 1} failed: {error}") from None
        created = response.json()
        workshops.append(
            {
                "workshop": created["id"],
                "code": created["join_code"],
                "token": created["facilitator_token"],
            }
        )
    return server, workshops


def start_baseline(port: int, log: Path, pin: bool) -> tuple[Server, list[dict]]:
    workshop_id, code, token = BASELINE_WORKSHOP
    command = pinned(
        SERVER_CPU,
        [
            PYTHON,
            str(ROOT / "bench" / "baseline_server.py"),
            "--port",
            str(port),
            "--workshop",
            workshop_id,
            "--code",
            code,
            "--token",
            token,
        ],
        pin,
    )
    server = Server("baseline", command, dict(os.environ), log)
    server.wait_ready("Baseline running on")
    return server, [{"workshop": workshop_id, "code": code, "token": token}]


def run_generator(
    label: str,
    port: int,
    server: Server,
    workshops: list[dict],
    arguments: argparse.Namespace,
    store: Server | None = None,
) -> dict:
    out = arguments.out_dir / f"{label}.json"
    workshops_file = arguments.out_dir / f"{label}-workshops.json"
    workshops_file.write_text(json.dumps(workshops))
    command = [
        PYTHON,
        str(ROOT / "bench" / "loadgen.py"),
        "--url",
        f"ws://127.0.0.1:{port}/ws",
        "--workshops-file",
        str(workshops_file),
        "--server-pid",
        str(server.process.pid),
        "--phones",
        str(arguments.phones),
        "--label",
        label,
        "--phone-processes",
        str(arguments.phone_processes),
        "--connect-concurrency",
        str(arguments.connect_concurrency),
        "--paced-seconds",
        str(arguments.paced_seconds),
        "--burst-seconds",
        str(arguments.burst_seconds),
        "--rounds",
        str(arguments.rounds),
        "--phase-timeout",
        str(arguments.phase_timeout),
        "--connect-timeout",
        str(arguments.connect_timeout),
        "--quiet-wait",
        str(min(arguments.quiet_wait, 120.0)),
        "--out",
        str(out),
    ]
    if not arguments.deflate:
        command.append("--no-deflate")
    if store is not None:
        command += ["--store-pid", str(store.process.pid)]
    if arguments.profile:
        profile_dir = arguments.out_dir / "profiles"
        profile_dir.mkdir(exist_ok=True)
        command += ["--profile-dir", str(profile_dir)]
    limit = arguments.connect_timeout + arguments.phase_timeout * (6 + 3 * arguments.rounds)
    try:
        completed = subprocess.run(
            pinned(GENERATOR_CPU, command, arguments.pin), cwd=ROOT, timeout=limit, check=False
        )
    except subprocess.TimeoutExpired:
        raise SystemExit(f"The load generator for {label} ran over {limit:.0f} s") from None
    if completed.returncode != 0:
        raise SystemExit(f"The load generator for {label} failed with code {completed.returncode}")
    result: dict = json.loads(out.read_text())
    return result


# Report ----------------------------------------------------------------------------------------


def machine_description() -> str:
    model = "unknown CPU"
    with open("/proc/cpuinfo", encoding="ascii", errors="replace") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory_kb = 0
    with open("/proc/meminfo", encoding="ascii") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                memory_kb = int(line.split()[1])
    versions = ", ".join(
        f"{name} {metadata.version(name)}"
        for name in ("websockets", "uvicorn", "litestar", "msgspec", "uvloop")
    )
    return (
        f"{model}, {os.cpu_count()} cores, {memory_kb / 1024 / 1024:.1f} GiB, "
        f"Linux {platform.release()}, Python {platform.python_version()}; {versions}"
    )


def commit() -> str:
    try:
        output = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        )
    except OSError:
        return "unknown"
    return output.stdout.strip() or "unknown"


def ratio(product: float | None, baseline: float | None) -> str:
    if product is None or baseline is None or baseline == 0:
        return ""
    return f"{product / baseline:.2f}×"


def shown(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) >= 10 else f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def verdict(passed: bool | None) -> str:
    if passed is None:
        return ""
    return "pass" if passed else "**fail**"


Getter = Callable[[dict], Any]


def render(results: dict[str, dict], arguments: argparse.Namespace, command_line: str) -> str:
    product = results.get("product")
    baseline = results.get("baseline")
    rows: list[str] = []

    def row(name: str, getter: Getter, target: str = "", check: Callable[..., Any] | None = None):
        values = [getter(result) if result else None for result in (product, baseline)]
        passed = None
        if check is not None and values[0] is not None:
            passed = check(values[0], values[1])
        rows.append(
            f"| {name} | {shown(values[0])} | {shown(values[1])} | "
            f"{ratio(values[0], values[1])} | {target} | {verdict(passed)} |"
        )

    row("phones joined", lambda r: r["connect"]["joined"])
    row("join failures", lambda r: r["connect"]["failures"])
    row("joins/s (connect and join, 100 at once)", lambda r: r["connect"]["joins_per_s"])

    def joined_by(share: str) -> Getter:
        return lambda r: r["connect"]["seconds_to_share_joined"].get(share)

    row("seconds until half the phones joined", joined_by("50%"))
    row("seconds until all phones joined", joined_by("100%"))
    row("join ack p99 ms", lambda r: r["connect"]["join_ack_ms"]["p99"])
    row("server CPU µs per join", lambda r: r["connect"]["server_cpu_us_per_join"])
    row("server RSS before phones MB", lambda r: r["memory"]["rss_before_kb"] / 1024)
    row("server RSS with phones idle MB", lambda r: r["memory"]["rss_after_kb"] / 1024)
    row(
        "server KB per idle phone",
        lambda r: r["memory"]["kb_per_phone"],
        f"≤ {TARGET_KB_PER_PHONE:.0f}",
        lambda p, b: p <= TARGET_KB_PER_PHONE,
    )
    round_count = min(len(r["rounds"]) for r in results.values())
    for index in range(round_count):
        number = index + 1

        def votes(r: dict, index: int = index) -> dict:
            return r["rounds"][index]["votes"]

        def reveal(r: dict, index: int = index) -> dict:
            return r["rounds"][index]["reveal"]

        mode = (product or baseline or {})["rounds"][index]["mode"]
        burst = mode.startswith("burst")
        prefix = f"round {number} ({mode})"
        row(f"{prefix}: votes sent over ms", lambda r, f=votes: f(r)["send_window_ms"])
        row(f"{prefix}: votes acked", lambda r, f=votes: f(r)["acked"])
        row(f"{prefix}: ack p50 ms", lambda r, f=votes: f(r)["ack_ms"]["p50"])
        row(
            f"{prefix}: ack p99 ms",
            lambda r, f=votes: f(r)["ack_ms"]["p99"],
            f"< {TARGET_ACK_P99_MS:.0f}" if burst else "",
            (lambda p, b: p < TARGET_ACK_P99_MS) if burst else None,
        )
        row(f"{prefix}: ack max ms", lambda r, f=votes: f(r)["ack_ms"]["max"])
        row(f"{prefix}: vote to projector p50 ms", lambda r, f=votes: f(r)["projector_ms"]["p50"])
        row(f"{prefix}: vote to projector p99 ms", lambda r, f=votes: f(r)["projector_ms"]["p99"])
        row(
            f"{prefix}: last vote to full count ms",
            lambda r, f=votes: f(r)["last_vote_to_full_count_ms"],
            f"≤ {TARGET_FULL_COUNT_MS:.0f}" if burst else "",
            (lambda p, b: p <= TARGET_FULL_COUNT_MS) if burst else None,
        )
        if arguments.workshops > 1:
            workshop_rows(row, prefix, votes, reveal, burst)
        row(f"{prefix}: server CPU µs per vote", lambda r, f=votes: f(r)["server_cpu_us_per_vote"])
        row(
            f"{prefix}: room views sent to phones while voting",
            lambda r, f=votes: f(r)["phone_room_views"],
        )
        row(f"{prefix}: reveal p50 ms", lambda r, f=reveal: f(r)["ms"]["p50"])
        row(f"{prefix}: reveal p99 ms", lambda r, f=reveal: f(r)["ms"]["p99"])
        row(
            f"{prefix}: reveal max ms",
            lambda r, f=reveal: f(r)["ms"]["max"],
            f"≤ {TARGET_REVEAL_MAX_MS:.0f}",
            lambda p, b: p <= TARGET_REVEAL_MAX_MS,
        )
        row(f"{prefix}: reveal phones missing", lambda r, f=reveal: f(r)["missing"])
        row(
            f"{prefix}: reveal phones/s (phones ÷ max)",
            lambda r, f=reveal: f(r)["phones_per_s"],
            f"≥ {TARGET_REVEAL_THROUGHPUT_RATIO}× baseline",
            lambda p, b: None if b is None else p >= TARGET_REVEAL_THROUGHPUT_RATIO * b,
        )
        row(
            f"{prefix}: reveal server CPU µs per phone",
            lambda r, f=reveal: f(r)["server_cpu_us_per_phone"],
        )
    row("stall probe: max round trip ms", lambda r: r["stalls"]["whole_run"]["rtt_ms"]["max"])
    row(
        "stall probe: max round trip less generator lateness ms",
        lambda r: r["stalls"]["whole_run"]["server_rtt_ms"]["max"],
        f"≤ {TARGET_STALL_MS:.0f}",
        lambda p, b: p <= TARGET_STALL_MS,
    )
    row(
        "stall probe: those over 100 ms",
        lambda r: r["stalls"]["whole_run"]["over_100ms"],
    )
    phases = list((product or baseline or {})["stalls"]["phases"])
    for phase in phases:
        row(
            f"stall probe: max less generator lateness ms, {phase}",
            lambda r, phase=phase: r["stalls"]["phases"][phase]["server_rtt_ms"]["max"],
            f"≤ {TARGET_STALL_MS:.0f}",
            lambda p, b: p <= TARGET_STALL_MS,
        )
    # The generator keeps a console and a projector per workshop connected to the end,
    # so a pause with more clients than those kept phones waiting.
    others = 2 * arguments.workshops

    def pauses(result: dict, phones_waiting: bool) -> int | None:
        logged = result["collection_pauses_ms"]
        if logged is None:
            return None
        return sum(1 for _, clients in logged if (clients > others) == phones_waiting)

    row(
        "garbage-collection pauses over 100 ms with phones connected",
        lambda r: pauses(r, phones_waiting=True),
        "0",
        lambda p, b: p == 0,
    )
    row(
        "garbage-collection pauses over 100 ms after the phones left",
        lambda r: pauses(r, phones_waiting=False),
    )
    row("stall probe: p99 round trip ms", lambda r: r["stalls"]["whole_run"]["rtt_ms"]["p99"])
    row(
        "stall probe: generator's own max lateness ms",
        lambda r: r["stalls"]["whole_run"]["generator_max_lateness_ms"],
    )
    row(
        "other programs' CPU s on the server's core",
        lambda r: other_cpu(r, "other_on_server_core_s"),
    )
    row(
        "kernel interrupt CPU s on the server's core (loopback TCP)",
        lambda r: other_cpu(r, "interrupts_on_server_core_s"),
    )
    row(
        "other programs' CPU s on the generator's core",
        lambda r: other_cpu(r, "other_on_generator_core_s"),
    )

    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    heading = f"### {arguments.phones:,} phones, {when}"
    pinning = "server on CPU 0, generator on CPU 1" if arguments.pin else "none"
    if arguments.redis_workers:
        workers = (
            "1 worker" if arguments.redis_workers == 1 else f"{arguments.redis_workers} workers"
        )
        heading = (
            f"### Redis, {workers}: {arguments.phones:,} phones over "
            f"{arguments.workshops} workshops, {when}"
        )
        if arguments.pin:
            pinning = (
                f"all {workers} of the server, their uvicorn supervisor and "
                "redis-server on CPU 0, generator on CPU 1"
            )
    elif arguments.workshops > 1:
        heading = f"### {arguments.phones:,} phones over {arguments.workshops} workshops, {when}"
    lines = [
        heading,
        "",
        f"- command: `{command_line}`",
        f"- product code: `{arguments.product_version}`",
        f"- machine: {machine_description()}",
        f"- pinning: {pinning}; "
        f"permessage-deflate {'offered' if arguments.deflate else 'not offered'} by the "
        f"phones, {'accepted' if arguments.product_deflate else 'declined'} by the product; "
        f"{arguments.phone_processes} phone process(es)",
        "",
        "| figure | product | baseline | product ÷ baseline | target | product |",
        "| --- | ---: | ---: | ---: | --- | --- |",
        *rows,
        "",
        generator_note(results),
    ]
    return "\n".join(lines) + "\n"


def workshop_rows(
    row: Callable[..., None], prefix: str, votes: Getter, reveal: Getter, burst: bool
) -> None:
    """Add rows for the median and the worst workshop, and for the workshops over target."""

    def spread(figures: Getter, value: Getter, pick: Callable[[list[float]], float]) -> Getter:
        def getter(result: dict) -> float | None:
            values = [value(entry) for entry in figures(result)["per_workshop"]]
            present = [number for number in values if number is not None]
            # A workshop whose figure is missing (no full count in time) counts as worst.
            if pick is max and len(present) < len(values):
                return None
            return pick(present) if present else None

        return getter

    def over(figures: Getter, value: Getter, limit: float) -> Getter:
        def getter(result: dict) -> int:
            values = [value(entry) for entry in figures(result)["per_workshop"]]
            return sum(1 for number in values if number is None or number > limit)

        return getter

    def ack_p99(entry: dict) -> float | None:
        return entry["ack_ms"]["p99"]

    def full_count(entry: dict) -> float | None:
        return entry["last_vote_to_full_count_ms"]

    def reveal_max(entry: dict) -> float | None:
        return entry["ms"]["max"]

    row(f"{prefix}: ack p99 ms, median workshop", spread(votes, ack_p99, statistics.median))
    row(
        f"{prefix}: ack p99 ms, worst workshop",
        spread(votes, ack_p99, max),
        f"< {TARGET_ACK_P99_MS:.0f}" if burst else "",
        (lambda p, b: p < TARGET_ACK_P99_MS) if burst else None,
    )
    row(
        f"{prefix}: workshops with ack p99 ≥ {TARGET_ACK_P99_MS:.0f} ms",
        over(votes, ack_p99, TARGET_ACK_P99_MS - 1e-9),
    )
    row(
        f"{prefix}: last vote to full count ms, median workshop",
        spread(votes, full_count, statistics.median),
    )
    row(
        f"{prefix}: last vote to full count ms, worst workshop",
        spread(votes, full_count, max),
        f"≤ {TARGET_FULL_COUNT_MS:.0f}" if burst else "",
        (lambda p, b: p <= TARGET_FULL_COUNT_MS) if burst else None,
    )
    row(
        f"{prefix}: workshops with full count over {TARGET_FULL_COUNT_MS:.0f} ms or never",
        over(votes, full_count, TARGET_FULL_COUNT_MS),
    )
    row(f"{prefix}: reveal max ms, median workshop", spread(reveal, reveal_max, statistics.median))
    row(
        f"{prefix}: workshops with reveal max over {TARGET_REVEAL_MAX_MS:.0f} ms",
        over(reveal, reveal_max, TARGET_REVEAL_MAX_MS),
    )


def measured_phases(result: dict) -> list[tuple[str, dict]]:
    """Return (name, server figures) for the connect phase and every vote and reveal phase."""
    phases = [("connect", result["connect"]["server"])]
    for round_result in result["rounds"]:
        for phase in ("votes", "reveal"):
            phases.append((f"round {round_result['round']} {phase}", round_result[phase]["server"]))
    return phases


def other_cpu(result: dict, key: str) -> float | None:
    """Sum the CPU seconds that other programs used on one core over the measured phases."""
    values = [server[key] for _, server in measured_phases(result) if key in server]
    return round(sum(values), 2) if values else None


def generator_note(results: dict[str, dict]) -> str:
    """Say in which phases the generator itself used over 90 % of its core."""
    busy = []
    for label, result in results.items():
        for round_result in result["rounds"]:
            for phase in ("votes", "reveal"):
                clients = round_result[phase]["client"]
                cpu = sum(client["cpu_s"] for client in clients)
                wall = max(client["wall_s"] for client in clients)
                if wall > 0.05 and cpu / wall > 0.9:
                    busy.append(f"{label} round {round_result['round']} {phase}")
        clients = result["connect"]["client"]
        cpu = sum(client["cpu_s"] for client in clients)
        wall = max(client["wall_s"] for client in clients)
        if wall > 0.05 and cpu / wall > 0.9:
            busy.append(f"{label} connect")
    disturbed = []
    for label, result in results.items():
        for name, server in measured_phases(result):
            other = server.get("other_on_server_core_s", 0.0) + server.get(
                "other_on_generator_core_s", 0.0
            )
            # /proc/stat counts in 10 ms ticks, so short phases need a floor.
            if other > max(0.05, 0.1 * server["wall_s"]):
                disturbed.append(f"{label} {name}")
    notes = []
    if busy:
        notes.append(
            "The generator's core was over 90 % busy in: "
            + ", ".join(busy)
            + ". Latencies there include the generator's own queueing, so they are upper bounds."
        )
    else:
        notes.append("The generator's core stayed under 90 % busy in every phase.")
    if disturbed:
        notes.append(
            "Other programs used over 10 % of the server's or the generator's core in: "
            + ", ".join(disturbed)
            + ", so those figures are slower than the servers alone would be."
        )
    return " ".join(notes)


def profile_section(profile_dir: Path) -> str:
    lines = ["", "#### Profile hot spots (py-spy, server process)", ""]
    for path in sorted(profile_dir.glob("*.txt")):
        lines.append(f"`{path.name}`:")
        lines.append("")
        lines.append(summarise_profile(path, limit=12))
        lines.append("")
    return "\n".join(lines)


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--phones", type=int, default=500, help="phones to connect (default 500)")
    parser.add_argument(
        "--phone-processes",
        type=int,
        help="generator processes for the phones (default 1 up to 5,000 phones, else 2)",
    )
    parser.add_argument(
        "--connect-concurrency",
        type=int,
        default=100,
        help="phones connecting and joining at once (default 100)",
    )
    parser.add_argument(
        "--paced-seconds", type=float, default=5.0, help="seconds over which round 1's votes spread"
    )
    parser.add_argument(
        "--burst-seconds",
        type=float,
        default=1.0,
        help="seconds over which the votes of round 3 and later spread (default 1)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="rounds: 1 paced, 2 all votes at once, later ones over --burst-seconds (default 3)",
    )

    parser.add_argument(
        "--redis-workers",
        type=int,
        default=0,
        help="run the product with REDIS_URL and this many uvicorn workers on a Redis server "
        "that this script starts (appendfsync always); 0, the default, uses the embedded store",
    )
    parser.add_argument(
        "--workshops",
        type=int,
        default=1,
        help="workshops to create on the product; phones spread evenly over them (default 1)",
    )
    parser.add_argument(
        "--servers",
        default="product,baseline",
        help="comma-separated servers to run, from product and baseline (default both)",
    )
    parser.add_argument(
        "--no-deflate",
        dest="deflate",
        action="store_false",
        help="phones do not offer permessage-deflate",
    )
    parser.add_argument(
        "--product-deflate",
        action="store_true",
        help="let the product accept permessage-deflate (WS_PER_MESSAGE_DEFLATE=true); "
        "by default it declines it, as in production",
    )
    parser.add_argument(
        "--no-pin", dest="pin", action="store_false", help="do not pin processes to CPUs"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="record each server with py-spy during the vote bursts and reveals",
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
        default=300.0,
        help="seconds to wait for other programs to leave the CPUs idle before each server "
        "starts (default 300); each phase then waits at most 120 s more",
    )

    parser.add_argument(
        "--commit",
        default="HEAD",
        help="commit whose server is measured, run from an exported copy (default HEAD)",
    )
    parser.add_argument(
        "--work-tree",
        action="store_true",
        help="measure the server files as they are in the work tree instead of --commit",
    )

    parser.add_argument(
        "--out-dir",
        type=Path,
        help="folder for the JSON, logs and profiles (default: a new temp folder)",
    )
    parser.add_argument(
        "--record",
        type=Path,
        help="Markdown file to append the results to, e.g. docs/benchmarks.md",
    )

    arguments = parser.parse_args()
    if arguments.phone_processes is None:
        arguments.phone_processes = 1 if arguments.phones <= 5000 else 2
    if arguments.out_dir is None:
        arguments.out_dir = Path(tempfile.mkdtemp(prefix="common-ground-bench-"))
    arguments.out_dir.mkdir(parents=True, exist_ok=True)

    servers = [name.strip() for name in arguments.servers.split(",") if name.strip()]
    unknown = set(servers) - {"product", "baseline"}
    if unknown or not servers:
        parser.error(f"--servers takes product and/or baseline, not {arguments.servers!r}")
    arguments.server_names = servers
    if arguments.workshops < 1:
        parser.error(f"--workshops must be at least 1, not {arguments.workshops}")
    if arguments.redis_workers < 0:
        parser.error(f"--redis-workers must be 0 or more, not {arguments.redis_workers}")
    if arguments.workshops > 1 and "baseline" in servers:
        parser.error("the baseline serves one workshop; pass --servers product with --workshops")

    if arguments.pin and (os.cpu_count() or 1) < 2:
        parser.error("pinning needs 2 CPUs; pass --no-pin on a single-CPU machine")
    return arguments


def measure(label: str, product_source: Path, arguments: argparse.Namespace) -> dict:
    """Start one server (and its Redis in Redis mode), run the generator, stop them all."""
    port = free_port()
    log = arguments.out_dir / f"{label}.log"
    with tempfile.TemporaryDirectory(prefix="common-ground-data-") as data_dir:
        redis = None
        redis_url = None
        if label == "product" and arguments.redis_workers:
            redis_port = free_port()
            redis = start_redis(
                redis_port, Path(data_dir), arguments.out_dir / "redis.log", arguments.pin
            )
            redis_url = f"redis://127.0.0.1:{redis_port}/0"
            print(f"redis pid {redis.process.pid} on port {redis_port}", flush=True)
        try:
            if label == "product":
                server, workshops = start_product(
                    port,
                    Path(data_dir),
                    product_source,
                    log,
                    arguments.pin,
                    arguments.workshops,
                    redis_url,
                    arguments.redis_workers,
                    arguments.product_deflate,
                )
            else:
                server, workshops = start_baseline(port, log, arguments.pin)
            print(f"{label} server pid {server.process.pid} on port {port}", flush=True)
            try:
                result = run_generator(label, port, server, workshops, arguments, redis)
            finally:
                server.stop()
            result["collection_pauses_ms"] = logged_collection_pauses(log)
            return result
        finally:
            if redis is not None:
                redis.stop()


COLLECTION_PAUSE = re.compile(
    r"a collection of generation \d paused the server for (\d+) ms with (\d+) clients connected"
)


def logged_collection_pauses(log: Path) -> list[tuple[int, int]] | None:
    """Return each garbage-collection pause over 100 ms that the product logged, as
    (ms, clients connected); ``None`` for the baseline, which does not log them."""
    text = log.read_text(errors="replace") if log.exists() else ""
    if "Common Ground is running" not in text:
        return None
    return [(int(match.group(1)), int(match.group(2))) for match in COLLECTION_PAUSE.finditer(text)]


def main() -> None:
    arguments = parse_arguments()
    command_line = " ".join(shlex.quote(part) for part in [".venv/bin/python", *sys.argv])
    # Children inherit the limit: the server needs a descriptor per phone.
    raise_open_file_limit(arguments.phones + 1000)
    results: dict[str, dict] = {}
    source_folder = tempfile.TemporaryDirectory(prefix="common-ground-source-")
    if arguments.work_tree:
        product_source = ROOT
        arguments.product_version = work_tree_description()
    else:
        product_source = Path(source_folder.name)
        arguments.product_version = export_commit(arguments.commit, product_source)
    for label in arguments.server_names:
        waited = wait_for_quiet_machine(arguments.quiet_wait)
        if waited is None:
            print(
                f"Other programs kept a CPU over 10 % busy for {arguments.quiet_wait:.0f} s; "
                f"starting the {label} run anyway",
                flush=True,
            )
        results[label] = measure(label, product_source, arguments)
    source_folder.cleanup()
    report = render(results, arguments, command_line)
    if arguments.profile:
        report += profile_section(arguments.out_dir / "profiles")
    (arguments.out_dir / "summary.md").write_text(report)
    print()
    print(report)
    print(f"JSON, logs and the summary are in {arguments.out_dir}")
    if arguments.record:
        with arguments.record.open("a", encoding="utf-8") as record:
            record.write("\n" + report)
        print(f"Appended the results to {arguments.record}")


if __name__ == "__main__":
    main()
