"""Tests for the shipped NUS rubric and for the errors that bad rubric files raise.

The shipped rubric is checked against a copy of the source text in ``data/``, so a
transcription slip in any descriptor, title or statement fails a test.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from server.rubric import Principle, Rubric, RubricError, load_rubric, load_rubric_folder

REPO_ROOT = Path(__file__).resolve().parents[2]
SOURCE_TEXT = Path(__file__).resolve().parent / "data" / "academic-support-benchmarking-tool.txt"
RUBRIC_ID = "nus-academic-support"
LEVELS = ["First steps", "Developing", "Developed", "Refining", "Outstanding"]
LEVELLED_PRINCIPLES = 9

# Defects in the extracted source text, as (wrong, right), that the shipped rubric repairs.
SOURCE_REPAIRS = (
    ("sectorleading", "sector-leading"),
    ("takeup", "take-up"),
    ("and/ or", "and/or"),
    ("institution.  Academic", "institution. Academic"),
    ("Glear", "Clear"),
    ("between staff and students what", "between staff and students: what"),
)


def read_repaired_source() -> str:
    text = SOURCE_TEXT.read_text(encoding="utf-8")
    for wrong, right in SOURCE_REPAIRS:
        assert wrong in text, f"repair {wrong!r} no longer matches the source text"
        text = text.replace(wrong, right)
    return text


def parse_level_table(text: str) -> list[list[str]]:
    """Parse the rows of the levelled principles: the name, then one descriptor per level.

    The table is tab-separated. Its tenth row contains principle 10's explanation split
    into column fragments, so only the first nine rows are levelled principles.
    """
    rows = [line.split("\t") for line in text.splitlines() if "\t" in line]
    header, *body = rows
    assert header == ["Principle", *LEVELS]
    return body[:LEVELLED_PRINCIPLES]


def parse_principle_list(text: str) -> list[tuple[str, str]]:
    """Parse (title, statement) pairs from the "Ten Principles" list that ends the source.

    Titles and statements alternate, one a line, and some titles start with a number.
    """
    _, _, tail = text.partition("### Ten Principles of Effective Academic Support")
    lines = [line.strip() for line in tail.splitlines() if line.strip()]
    titles = [re.sub(r"^\d+ ", "", line) for line in lines[0::2]]
    return list(zip(titles, lines[1::2], strict=True))


def parse_guidance(text: str) -> str:
    """Return the "How to use the tool" and "Things to bear in mind" sections as plain text."""
    start = text.index("#### How to use the tool")
    end = text.index("### Ten Principles")
    section = text[start:end].replace("#### ", "").strip()
    # The sections end with a page number on a line of its own.
    return re.sub(r"\n+\d+$", "", section)


@pytest.fixture(scope="module")
def source() -> str:
    return read_repaired_source()


@pytest.fixture(scope="module")
def rubric() -> Rubric:
    return load_rubric_folder(REPO_ROOT / "rubric")[RUBRIC_ID]


def collect_texts(rubric: Rubric) -> list[str]:
    texts = [rubric.title, rubric.guidance]
    for principle in rubric.principles:
        texts += [principle.title, principle.statement, principle.description]
        texts += principle.descriptors
        texts += principle.aliases
    return texts


# The shipped rubric


def test_rubric_top_level_fields(rubric: Rubric) -> None:
    assert rubric.id == RUBRIC_ID
    assert rubric.title == "Academic Support benchmarking tool"
    assert "NUS" in rubric.source
    assert rubric.levels == LEVELS
    assert [(role.id, role.name) for role in rubric.roles] == [
        ("staff", "Staff"),
        ("student", "Student"),
    ]
    assert rubric.comparison == ("staff", "student")


def test_principles_numbered_in_list_order(rubric: Rubric) -> None:
    assert [principle.number for principle in rubric.principles] == list(range(1, 11))


def test_every_descriptor_matches_source(rubric: Rubric, source: str) -> None:
    rows = parse_level_table(source)
    assert len(rows) == LEVELLED_PRINCIPLES
    for principle, row in zip(rubric.principles, rows, strict=False):
        source_descriptors = row[1:]
        count_message = f"principle {principle.number} descriptor count"
        assert len(principle.descriptors) == len(source_descriptors), count_message
        for level, expected, actual in zip(
            LEVELS, source_descriptors, principle.descriptors, strict=True
        ):
            assert actual == expected, f"principle {principle.number}, level {level!r}"


def test_table_names_are_titles_or_aliases(rubric: Rubric, source: str) -> None:
    for principle, row in zip(rubric.principles, parse_level_table(source), strict=False):
        names = [principle.title, *principle.aliases]
        assert row[0] in names, f"principle {principle.number}: table name {row[0]!r}"


def test_titles_and_statements_match_list(rubric: Rubric, source: str) -> None:
    listed = parse_principle_list(source)
    assert len(listed) == len(rubric.principles) == 10
    for principle, (title, statement) in zip(rubric.principles, listed, strict=True):
        assert principle.title == title, f"principle {principle.number} title"
        assert principle.statement == statement, f"principle {principle.number} statement"


def test_joined_up_principle_keeps_alias(rubric: Rubric) -> None:
    principle = rubric.principles[1]
    assert principle.title == "A joined-up approach to academic support"
    assert principle.aliases == ["An integrated approach to academic support"]


def test_principle_nine_title_says_clear(rubric: Rubric) -> None:
    assert rubric.principles[8].title == "Clear, accessible, up to date information"


def test_trust_principle_is_discussion_item(rubric: Rubric, source: str) -> None:
    principle = rubric.principles[9]
    assert principle.title == "Trust, respect, and an effective working relationship"
    assert principle.descriptors == []
    assert not principle.has_levels

    summary, _, full_paragraph = principle.description.partition("\n\n")
    assert "relies heavily on the relationship between staff and students" in summary
    for fragment in ("neavily", "stuaents", " iduals", "structur "):
        assert fragment not in principle.description, fragment

    source_paragraph = next(
        line
        for line in source.splitlines()
        if line.startswith("The relationship between students and academic support staff")
    )
    assert full_paragraph == source_paragraph


def test_guidance_matches_source(rubric: Rubric, source: str) -> None:
    assert rubric.guidance == parse_guidance(source)


def test_no_extraction_defects_remain(rubric: Rubric) -> None:
    texts = collect_texts(rubric)
    for wrong, _ in SOURCE_REPAIRS:
        for text in texts:
            assert wrong not in text, f"{wrong!r} in {text[:60]!r}"


def test_principle_ids_are_kebab_case(rubric: Rubric) -> None:
    for principle in rubric.principles:
        assert re.fullmatch(r"[a-z]+(-[a-z]+)*", principle.id), principle.id


def test_lookup_by_id(rubric: Rubric) -> None:
    principle = rubric.principle("joined-up-approach")
    assert isinstance(principle, Principle)
    assert principle.number == 2
    assert rubric.principle("no-such-principle") is None


# Bad rubric files

SMALL_RUBRIC = """\
id = "small"
title = "Small rubric"
source = "Unit tests"
levels = ["First steps", "Developing", "Developed", "Refining", "Outstanding"]
comparison = ["staff", "student"]

[[roles]]
id = "staff"
name = "Staff"

[[roles]]
id = "student"
name = "Student"

[[principles]]
id = "first"
number = 1
title = "First principle"
statement = "The principle that a rubric has at least one principle."
descriptors = ["One", "Two", "Three", "Four", "Five"]
"""

SECOND_PRINCIPLE = """
[[principles]]
id = "first"
number = 2
title = "Second principle"
statement = "The principle that ids are unique."
description = "A discussion item."
"""


def edit(old: str, new: str) -> str:
    """Return SMALL_RUBRIC with its one occurrence of ``old`` replaced by ``new``."""
    assert SMALL_RUBRIC.count(old) == 1, old
    return SMALL_RUBRIC.replace(old, new)


def write_rubric(folder: Path, text: str, name: str = "bad.toml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_small_rubric_is_valid(tmp_path: Path) -> None:
    rubric = load_rubric(write_rubric(tmp_path, SMALL_RUBRIC, "small.toml"))
    assert rubric.principles[0].descriptors[4] == "Five"


BAD_RUBRICS = [
    pytest.param(
        edit("number = 1", 'number = "one"'),
        ["`$.principles[0].number`", "Expected `int`, got `str`"],
        id="wrong-type",
    ),
    pytest.param(
        edit('"Four", "Five"', '"Four"'),
        ["`$.principles[0].descriptors`", "has 4 entries", "one per level (5)"],
        id="four-descriptors",
    ),
    pytest.param(
        SMALL_RUBRIC + SECOND_PRINCIPLE,
        ["`$.principles[1].id`", "'first' is used by an earlier principle"],
        id="duplicate-principle-id",
    ),
    pytest.param(
        edit('comparison = ["staff", "student"]', 'comparison = ["staff", "teacher"]'),
        ["`$.comparison[1]`", "'teacher', not in `$.roles`"],
        id="unknown-comparison-role",
    ),
    pytest.param(
        edit('title = "Small rubric"', 'title = "Small rubric'),
        ["not valid TOML", "line 2"],
        id="invalid-toml",
    ),
    pytest.param(
        edit('descriptors = ["One", "Two", "Three", "Four", "Five"]\n', ""),
        ["`$.principles[0]`", "has no descriptors, so it needs a `description`"],
        id="discussion-item-without-description",
    ),
]


@pytest.mark.parametrize(("text", "expected"), BAD_RUBRICS)
def test_bad_rubric_error_message(tmp_path: Path, text: str, expected: list[str]) -> None:
    path = write_rubric(tmp_path, text)
    with pytest.raises(RubricError) as raised:
        load_rubric(path)
    message = str(raised.value)
    assert message.startswith(f"{path}: "), message
    for part in expected:
        assert part in message, f"{part!r} not in {message!r}"


def test_folder_error_names_bad_file(tmp_path: Path) -> None:
    write_rubric(tmp_path, SMALL_RUBRIC, "a-good.toml")
    bad = write_rubric(tmp_path, edit("number = 1", "number = 0"), "b-bad.toml")
    with pytest.raises(RubricError) as raised:
        load_rubric_folder(tmp_path)
    message = str(raised.value)
    assert message.startswith(f"{bad}: "), message
    assert "`$.principles[0].number`" in message


def test_folder_rejects_repeated_rubric_id(tmp_path: Path) -> None:
    write_rubric(tmp_path, SMALL_RUBRIC, "a.toml")
    second = write_rubric(tmp_path, SMALL_RUBRIC, "b.toml")
    with pytest.raises(RubricError) as raised:
        load_rubric_folder(tmp_path)
    message = str(raised.value)
    assert message.startswith(f"{second}: "), message
    assert "'small' is already used" in message
