"""Check rubric files and print them as tables: ``python -m server.rubric_cli FILE...``.

For people who write or tweak a rubric. Each file is decoded and checked with the same
rules the server applies at start-up and on upload, and every problem is printed with
the field it concerns. The exit status is 0 when every file is valid, 1 when one is not and
2 for a usage error.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

from server.rubric import Rubric, RubricError, load_rubric

__all__ = ("format_rubric", "main")

MIN_WIDTH = 60


def _table(rows: list[list[str]], width: int, wrap_column: int) -> list[str]:
    """Lay out ``rows`` (the first is the header) in columns, wrapping one column so
    that lines fit in ``width`` characters."""
    widths = [max(len(row[index]) for row in rows) for index in range(len(rows[0]))]
    fixed = sum(w for index, w in enumerate(widths) if index != wrap_column)
    separators = 3 * (len(widths) - 1)
    widths[wrap_column] = max(20, min(widths[wrap_column], width - fixed - separators))

    lines = []
    for number, row in enumerate(rows):
        cells = [
            textwrap.wrap(cell, widths[index]) or [""] if index == wrap_column else [cell]
            for index, cell in enumerate(row)
        ]
        for line_index in range(max(len(cell) for cell in cells)):
            parts = [
                (cell[line_index] if line_index < len(cell) else "").ljust(widths[index])
                for index, cell in enumerate(cells)
            ]
            lines.append(" | ".join(parts).rstrip())
        if number == 0:
            lines.append("-+-".join("-" * w for w in widths))
    return lines


def format_rubric(rubric: Rubric, *, width: int = 100, descriptors: bool = False) -> str:
    """Return a rubric as text: its fields, then one table row per principle, and with
    ``descriptors`` a table of each principle's level descriptors."""
    roles = ", ".join(f"{role.id} ({role.name})" for role in rubric.roles)
    levels = ", ".join(f"{index} {name}" for index, name in enumerate(rubric.levels, start=1))
    lines = [
        f"id          {rubric.id}",
        f"title       {rubric.title}",
        f"source      {rubric.source}",
        f"levels      {levels}",
        f"roles       {roles}",
        f"gap         median of {rubric.comparison[0]} minus median of {rubric.comparison[1]}",
        "",
    ]
    rows = [["No.", "Id", "Title", "Levels", "Aspects"]]
    for principle in rubric.principles:
        aspects = ", ".join(aspect.id for aspect in principle.aspects) or "-"
        levelled = str(len(principle.descriptors)) if principle.has_levels else "discussion"
        rows.append([str(principle.number), principle.id, principle.title, levelled, aspects])
    lines += _table(rows, width, wrap_column=2)

    if descriptors:
        for principle in rubric.principles:
            lines += ["", f"{principle.number}. {principle.title}"]
            if not principle.has_levels:
                lines += textwrap.wrap(principle.description, width) or [""]
                continue
            grid = [["Level", "Descriptor"]]
            grid += [
                [name, text]
                for name, text in zip(rubric.levels, principle.descriptors, strict=True)
            ]
            lines += _table(grid, width, wrap_column=1)
            for aspect in principle.aspects:
                lines.append(f"  aspect {principle.id}/{aspect.id}: {aspect.title}")
    return "\n".join(lines)


def main(arguments: Sequence[str] | None = None) -> int:
    """Check each file named on the command line and print it; return the exit status."""
    parser = argparse.ArgumentParser(
        prog="common-ground-rubric",
        description="Check Common Ground rubric files (TOML) and print them as tables.",
    )
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE", help="rubric file")
    parser.add_argument(
        "--descriptors",
        action="store_true",
        help="also print every principle's level descriptors",
    )
    parser.add_argument(
        "--width",
        type=int,
        default=max(MIN_WIDTH, shutil.get_terminal_size((100, 24)).columns),
        help="maximum line length in characters (default: the terminal's width)",
    )
    options = parser.parse_args(arguments)

    status = 0
    for index, path in enumerate(options.files):
        if index:
            print()
        try:
            rubric = load_rubric(path)
        except RubricError as error:
            for problem in error.problems:
                print(f"invalid: {problem}", file=sys.stderr)
            status = 1
            continue
        print(f"{path}: valid rubric")
        print(
            format_rubric(
                rubric, width=max(MIN_WIDTH, options.width), descriptors=options.descriptors
            )
        )
    return status


if __name__ == "__main__":
    sys.exit(main())
