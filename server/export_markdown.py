"""The Markdown export, for pasting a workshop's outcome into minutes.

The text follows CommonMark. Text typed in the workshop (titles, notes, actions,
owners) is escaped, so it shows as written and never turns into links, HTML or
headings. Line breaks inside notes are kept as hard line breaks.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from server.export import ExportedItem, ExportedRound, WorkshopExport, final_round

__all__ = ("MARKDOWN_MEDIA_TYPE", "escape_markdown", "export_markdown")

MARKDOWN_MEDIA_TYPE = "text/markdown"
"""Litestar adds the charset, utf-8, to every text type."""

_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#|~!&])")
_LINE_START_MARKER = re.compile(r"^(\s*)(\d+)?([-+=.)])")


def escape_markdown(text: str) -> str:
    """Escape one line of text so that CommonMark shows it literally."""
    escaped = _SPECIAL.sub(r"\\\1", text)
    # List, heading-underline and ordered-list markers only act at the start of a line.
    return _LINE_START_MARKER.sub(lambda m: f"{m[1]}{m[2] or ''}\\{m[3]}", escaped)


def _paragraphs(text: str) -> list[str]:
    """Return text as Markdown paragraphs, each single line break a hard line break."""
    blocks = re.split(r"\n\s*\n", text.replace("\r\n", "\n").replace("\r", "\n"))
    paragraphs = []
    for block in blocks:
        lines = [escape_markdown(line.strip()) for line in block.split("\n") if line.strip()]
        if lines:
            paragraphs.append("\\\n".join(lines))
    return paragraphs


def _date(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _median(round_: ExportedRound | None, role: str) -> str:
    if round_ is None or role not in round_.roles:
        return "–"
    median = round_.roles[role].median
    return "–" if median is None else f"{median:g}"


def _people(export: WorkshopExport, role: str, count: int) -> str:
    names = export.role_plurals if count != 1 else export.role_names
    return f"{count} {escape_markdown(names.get(role, role))}"


def _gap(round_: ExportedRound | None) -> str:
    if round_ is None or round_.gap is None:
        return "–"
    return f"{round_.gap:+g}" if round_.gap else "0"


def _level(name: str | None, level: int | None) -> str:
    return f"{escape_markdown(name)} ({level})" if name and level else "–"


def _positions_table(export: WorkshopExport) -> list[str]:
    first, second = export.comparison
    lines = [
        f"| No. | Principle | Agreed level | Mean of aspects | Median: {first} "
        f"| Median: {second} | Gap | Priority target |",
        "| ---: | --- | --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for item in export.items:
        final = final_round(item.rounds)
        if not item.has_levels:
            agreed = "discussion item"
        elif item.recorded:
            agreed = _level(item.agreed_level_name, item.agreed_level)
        else:
            agreed = "not recorded"
        mean = f"{item.aspect_mean:g}" if item.aspect_mean is not None else "–"
        priority = item.priority
        if priority is None:
            target = "–"
        elif priority.target_level is None:
            target = "priority, no target"
        else:
            target = _level(priority.target_level_name, priority.target_level)
        cells = [
            str(item.number),
            escape_markdown(item.title),
            agreed,
            mean,
            _median(final, first),
            _median(final, second),
            _gap(final),
            target,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _priorities(export: WorkshopExport) -> list[str]:
    chosen = [(item, item.priority) for item in export.items if item.priority is not None]
    if not chosen:
        return ["No principle was marked as a priority."]
    lines: list[str] = []
    for item, priority in chosen:
        lines += [f"### {item.number}. {escape_markdown(item.title)}", ""]
        target = _level(priority.target_level_name, priority.target_level)
        lines.append(f"- Agreed level: {_level(item.agreed_level_name, item.agreed_level)}")
        lines.append(f"- Target level: {target}")
        lines.append(f"- Staff owner: {escape_markdown(priority.staff_owner) or '–'}")
        lines.append(f"- Student owner: {escape_markdown(priority.student_owner) or '–'}")
        lines.append("")
        actions = _paragraphs(priority.actions)
        if actions:
            lines += ["Actions:", ""]
            for paragraph in actions:
                lines += [paragraph, ""]
    return lines


def _item_notes(export: WorkshopExport, item: ExportedItem) -> list[str]:
    lines = [f"### {item.number}. {escape_markdown(item.title)}", ""]
    facts = []
    if item.has_levels:
        facts.append(f"Agreed level: {_level(item.agreed_level_name, item.agreed_level)}.")
        revealed = sum(1 for round_ in item.rounds if round_.revealed)
        facts.append(f"Rounds revealed: {revealed}.")
        if item.aspect_mean is not None:
            facts.append(f"Mean of the aspects' agreed levels: {item.aspect_mean:g}.")
    else:
        facts.append("Discussion item, no levels.")
    lines += [" ".join(facts), ""]
    for paragraph in _paragraphs(item.notes) or ["No notes recorded."]:
        lines += [paragraph, ""]
    for aspect in item.aspects:
        level = _level(aspect.agreed_level_name, aspect.agreed_level)
        lines += [
            f"#### Aspect: {escape_markdown(aspect.title)}",
            "",
            f"Agreed level: {level}.",
            "",
        ]
        for paragraph in _paragraphs(aspect.notes):
            lines += [paragraph, ""]
    return lines


def export_markdown(export: WorkshopExport) -> str:
    """Write the export as Markdown: a table of agreed positions, priorities and notes."""
    lines = [
        f"# {escape_markdown(export.title)}",
        "",
        f"{export.scope.capitalize()}: {escape_markdown(export.unit)}\\",
        f"Rubric: {escape_markdown(export.rubric_title)} "
        f"({escape_markdown(export.rubric_source)})\\",
        f"Workshop created {_date(export.created_at)}; exported {_date(export.exported_at)}\\",
        "Participants: "
        + ", ".join(_people(export, entry.role, entry.count) for entry in export.roles),
        "",
        "## Agreed positions",
        "",
        *_positions_table(export),
        "",
        f"Medians and the gap are from the last revealed round; the gap is {export.comparison[0]} "
        f"minus {export.comparison[1]}, in levels.",
        "",
        "## Priorities",
        "",
        *_priorities(export),
        "",
        "## Discussion notes",
        "",
    ]
    for item in export.items:
        lines += _item_notes(export, item)
    return "\n".join(lines).rstrip("\n") + "\n"
