"""Summarise a py-spy profile in its ``raw`` (collapsed stack) format as Markdown.

Each line of such a file is ``thread (TID): NAME;frame;frame;... COUNT``, outermost
frame first, where a frame reads ``function (path:line)``. ``bench/loadgen.py`` runs
py-spy with ``--gil``, so only samples of the thread holding the GIL are recorded:
Python work, not threads waiting in epoll, fsync or a lock.

Run: ``python bench/profile_summary.py FILE [--limit 15]``
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

FRAME = re.compile(r"^(?P<function>.*) \((?P<path>.*?)(?::\d+)?\)$")
OUTER_FRAMES = re.compile(
    r"^(<module>|_run_code|_run_module_as_main|main|run|asyncio_run|Runner\.run|Server\.run"
    r"|Server\.serve|Thread\.\w+|_worker|Handle\._run|Context\.run) \("
)
"""Entry frames that sit under most samples of a thread and show nothing about the cost."""


def function_name(frame: str) -> str:
    """Return ``function (short path)`` for a frame, without its line number."""
    match = FRAME.match(frame)
    if match is None:
        return frame
    path = match["path"]
    for marker in ("site-packages/", "lib/python3."):
        if marker in path:
            path = path.split(marker, 1)[1]
            if marker == "lib/python3.":
                path = "stdlib/" + path.split("/", 1)[1]
            break
    return f"{match['function']} ({path})"


def summarise_profile(path: Path, limit: int = 15) -> str:
    """Return the threads and the functions with the most samples, as Markdown."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        thread, _, frames_text = stack.partition(": ")
        frames = frames_text.split(";")
        threads[frames[0]] += count
        names = [function_name(frame) for frame in frames[1:]]
        if names:
            own[names[-1]] += count
        for name in set(names):
            inclusive[name] += count
    if total == 0:
        return "(no samples)"

    def share(count: int) -> str:
        return f"{100 * count / total:.1f} %"

    lines = [
        f"{total} samples while running; by thread: "
        + ", ".join(f"{name} {share(count)}" for name, count in threads.most_common()),
        "",
        "| own time | function | | with callees | function |",
        "| ---: | --- | --- | ---: | --- |",
    ]
    inner = [(n, c) for n, c in inclusive.most_common() if not OUTER_FRAMES.match(n)][:limit]
    top_own = own.most_common(limit)
    for position in range(max(len(top_own), len(inner))):
        left = top_own[position] if position < len(top_own) else ("", 0)
        right = inner[position] if position < len(inner) else ("", 0)
        lines.append(
            f"| {share(left[1]) if left[0] else ''} | {left[0]} | | "
            f"{share(right[1]) if right[0] else ''} | {right[0]} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description="Summarise a py-spy raw profile as Markdown.")
    parser.add_argument("path", type=Path, help="file written by py-spy record --format raw")
    parser.add_argument("--limit", type=int, default=15, help="functions to list (default 15)")
    arguments = parser.parse_args()
    print(summarise_profile(arguments.path, arguments.limit))


if __name__ == "__main__":
    main()
