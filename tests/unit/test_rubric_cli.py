"""Aspects of practice in rubric files, and the rubric checking command ``server.rubric_cli``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from server.rubric import RubricError, load_rubric, parse_rubric
from server.rubric_cli import main

REPO_ROOT = Path(__file__).resolve().parents[2]
ASPECT_RUBRIC = Path(__file__).resolve().parent / "data" / "aspect-rubric.toml"
NUS_RUBRIC = REPO_ROOT / "rubric" / "nus-academic-support.toml"


def aspect_text() -> str:
    return ASPECT_RUBRIC.read_text(encoding="utf-8")


def test_aspects_load_in_order() -> None:
    rubric = load_rubric(ASPECT_RUBRIC)
    principle = rubric.principles[0]

    assert [aspect.id for aspect in principle.aspects] == ["timeliness", "usefulness"]
    assert principle.aspects[1].description == "Whether students can act on it."
    assert principle.aspect("usefulness") is principle.aspects[1]
    assert principle.aspect("missing") is None
    assert rubric.principles[1].aspects == []


def test_nus_rubric_has_no_aspects() -> None:
    rubric = load_rubric(NUS_RUBRIC)

    assert all(principle.aspects == [] for principle in rubric.principles)


BAD_ASPECTS = [
    pytest.param(
        aspect_text().replace('id = "usefulness"', 'id = "timeliness"'),
        "`$.principles[0].aspects[1].id` 'timeliness' is used by an earlier aspect",
        id="repeated-aspect-id",
    ),
    pytest.param(
        aspect_text() + '\n[[principles.aspects]]\nid = "tone"\ntitle = "Tone"\n',
        "`$.principles[1].aspects` is set, but the principle has no descriptors",
        id="aspect-on-discussion-item",
    ),
    pytest.param(
        aspect_text().replace('id = "timeliness"', 'id = "Time liness"'),
        "`$.principles[0].aspects[0].id`",
        id="aspect-id-pattern",
    ),
    pytest.param(
        aspect_text().replace('title = "Timeliness"\n', ""),
        "missing required field `title` - at `$.principles[0].aspects[0]`",
        id="aspect-without-title",
    ),
]


@pytest.mark.parametrize(("text", "expected"), BAD_ASPECTS)
def test_bad_aspect_error_names_field(text: str, expected: str) -> None:
    with pytest.raises(RubricError) as raised:
        parse_rubric(text, source_name="test.toml")

    message = str(raised.value)
    assert message.startswith("test.toml: "), message
    assert expected.lower() in message.lower(), message


def test_every_problem_is_listed() -> None:
    text = aspect_text().replace('id = "usefulness"', 'id = "timeliness"')
    text = text.replace('comparison = ["staff", "student"]', 'comparison = ["staff", "union"]')

    with pytest.raises(RubricError) as raised:
        parse_rubric(text, source_name="two.toml")

    assert len(raised.value.problems) == 2
    assert all(problem.startswith("two.toml: ") for problem in raised.value.problems)


# The command --------------------------------------------------------------------------------


def test_cli_prints_valid_rubric_as_table(capsys: pytest.CaptureFixture[str]) -> None:
    status = main([str(ASPECT_RUBRIC), "--width", "100"])

    output = capsys.readouterr().out
    assert status == 0
    assert f"{ASPECT_RUBRIC}: valid rubric" in output
    assert "levels      1 Emerging, 2 Established, 3 Leading" in output
    header = next(line for line in output.splitlines() if line.startswith("No."))
    assert [cell.strip() for cell in header.split("|")] == [
        "No.",
        "Id",
        "Title",
        "Levels",
        "Aspects",
    ]
    row = next(line for line in output.splitlines() if line.startswith("1 "))
    assert [cell.strip() for cell in row.split("|")] == [
        "1",
        "feedback",
        "Feedback on assessed work",
        "3",
        "timeliness, usefulness",
    ]
    assert "discussion" in output


def test_cli_descriptors_fit_width(capsys: pytest.CaptureFixture[str]) -> None:
    status = main([str(NUS_RUBRIC), "--descriptors", "--width", "80"])

    output = capsys.readouterr().out
    assert status == 0
    assert "Outstanding | Proactive, personalised academic support" in output
    assert max(len(line) for line in output.splitlines()) <= 80


def test_cli_reports_every_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    text = aspect_text().replace('id = "usefulness"', 'id = "timeliness"')
    bad.write_text(
        text.replace('levels = ["Emerging", "Established", "Leading"]', 'levels = ["One"]')
    )

    status = main([str(bad), str(ASPECT_RUBRIC)])

    captured = capsys.readouterr()
    assert status == 1
    problems = [line for line in captured.err.splitlines() if line.startswith("invalid: ")]
    assert any("`$.levels` must name at least two levels" in line for line in problems)
    assert any("is used by an earlier aspect" in line for line in problems)
    assert f"{ASPECT_RUBRIC}: valid rubric" in captured.out


def test_cli_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = main([str(tmp_path / "missing.toml")])

    assert status == 1
    assert "cannot be read" in capsys.readouterr().err


def test_cli_runs_as_module() -> None:
    completed = subprocess.run(  # noqa: S603 - runs this project's own module
        [sys.executable, "-m", "server.rubric_cli", str(NUS_RUBRIC)],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        check=False,
    )

    assert completed.returncode == 0, completed.stderr
    assert "trust-and-respect" in completed.stdout
