"""Rubric files: the principles, levels and roles a workshop benchmarks against.

A rubric is a TOML file decoded into the Structs below and then checked for the rules
the type system cannot express (unique ids, five descriptors per levelled principle,
known comparison roles). Every error names the file, the field and the problem.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import msgspec

__all__ = (
    "Aspect",
    "Principle",
    "Role",
    "Rubric",
    "RubricError",
    "load_rubric",
    "load_rubric_folder",
    "parse_rubric",
)

Identifier = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
Text = Annotated[str, msgspec.Meta(min_length=1, max_length=4000)]
Title = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class Role(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """A group a participant belongs to, such as staff or student."""

    id: Identifier
    name: Title
    plural: Title | None = None
    """The name for several people, e.g. "Students"; the name itself when not given."""


class Aspect(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """One aspect of practice within a principle, which a workshop may place at a level
    on its own, using the principle's descriptors."""

    id: Identifier
    """Unique within its principle; the agenda item id is ``<principle id>/<aspect id>``."""
    title: Title
    description: str = ""


class Principle(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """One principle of the rubric, levelled or a discussion item."""

    id: Identifier
    """Stable identifier used in agendas, messages and exports."""
    number: Annotated[int, msgspec.Meta(ge=1, le=99)]
    title: Title
    statement: Text
    """The one-line "principle that ..." statement shown with the title."""
    descriptors: list[Text] = []
    """One descriptor per level, lowest first; empty for a discussion item."""
    description: str = ""
    """Longer explanation, used for discussion items without levels."""
    aliases: list[Title] = []
    """Other titles the source text uses for this principle."""
    aspects: list[Aspect] = []
    """Aspects of practice that a workshop may vote on separately; levelled principles only."""

    @property
    def has_levels(self) -> bool:
        return bool(self.descriptors)

    def aspect(self, aspect_id: str) -> Aspect | None:
        for aspect in self.aspects:
            if aspect.id == aspect_id:
                return aspect
        return None


class Rubric(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """A whole rubric: levels, roles and principles in canonical order."""

    id: Identifier
    title: Title
    source: Text
    """The rubric's publisher, shown in exports."""
    levels: list[Title]
    """Level names, lowest first."""
    roles: list[Role]
    comparison: tuple[Identifier, Identifier]
    """The two roles whose medians are compared as the gap, e.g. staff and student."""
    principles: list[Principle]
    guidance: str = ""

    def principle(self, principle_id: str) -> Principle | None:
        for principle in self.principles:
            if principle.id == principle_id:
                return principle
        return None

    def role(self, role_id: str) -> Role | None:
        for role in self.roles:
            if role.id == role_id:
                return role
        return None


class RubricError(ValueError):
    """A rubric file that cannot be used, with the file, field and problem."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems if problems is not None else [message]
        """Every problem found, each naming the field; the message joins them."""


def parse_rubric(data: bytes | str, *, source_name: str) -> Rubric:
    """Decode and check a rubric from TOML text.

    Raises:
        RubricError: naming ``source_name``, the field and the problem.
    """
    try:
        rubric = msgspec.toml.decode(data, type=Rubric)
    except msgspec.ValidationError as error:
        raise RubricError(f"{source_name}: {error}") from None
    except msgspec.DecodeError as error:
        raise RubricError(f"{source_name}: not valid TOML: {error}") from None

    problems = _check(rubric)
    if problems:
        raise RubricError(
            f"{source_name}: {'; '.join(problems)}",
            [f"{source_name}: {problem}" for problem in problems],
        )
    return rubric


def _check(rubric: Rubric) -> list[str]:
    problems: list[str] = []
    if len(rubric.levels) < 2:
        problems.append("`$.levels` must name at least two levels")
    if len(set(rubric.levels)) != len(rubric.levels):
        problems.append("`$.levels` has a repeated level name")

    role_ids = [role.id for role in rubric.roles]
    if len(role_ids) < 2:
        problems.append("`$.roles` must list at least two roles")
    if len(set(role_ids)) != len(role_ids):
        problems.append("`$.roles` has a repeated role id")
    for index, role_id in enumerate(rubric.comparison):
        if role_id not in role_ids:
            problems.append(f"`$.comparison[{index}]` names role {role_id!r}, not in `$.roles`")
    if rubric.comparison[0] == rubric.comparison[1]:
        problems.append("`$.comparison` must name two different roles")

    if not rubric.principles:
        problems.append("`$.principles` is empty")
    seen_ids: set[str] = set()
    seen_numbers: set[int] = set()
    for index, principle in enumerate(rubric.principles):
        field = f"$.principles[{index}]"
        if principle.id in seen_ids:
            problems.append(f"`{field}.id` {principle.id!r} is used by an earlier principle")
        if principle.number in seen_numbers:
            problems.append(f"`{field}.number` {principle.number} is used by an earlier principle")
        seen_ids.add(principle.id)
        seen_numbers.add(principle.number)
        count = len(principle.descriptors)
        if count and count != len(rubric.levels):
            problems.append(
                f"`{field}.descriptors` has {count} entries; expected one per level "
                f"({len(rubric.levels)}), or none for a discussion item"
            )
        if not count and not principle.description:
            problems.append(f"`{field}` has no descriptors, so it needs a `description`")
        problems += _check_aspects(principle, field)
    return problems


def _check_aspects(principle: Principle, field: str) -> list[str]:
    problems: list[str] = []
    if principle.aspects and not principle.has_levels:
        problems.append(
            f"`{field}.aspects` is set, but the principle has no descriptors; "
            "only a levelled principle can have aspects to vote on"
        )
    seen: set[str] = set()
    for index, aspect in enumerate(principle.aspects):
        if aspect.id in seen:
            problems.append(
                f"`{field}.aspects[{index}].id` {aspect.id!r} is used by an earlier aspect"
            )
        seen.add(aspect.id)
    return problems


def load_rubric(path: Path) -> Rubric:
    """Read and check one rubric file."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise RubricError(f"{path}: cannot be read: {error.strerror}") from None
    return parse_rubric(data, source_name=str(path))


def load_rubric_folder(folder: Path) -> dict[str, Rubric]:
    """Load every ``*.toml`` rubric in ``folder``, keyed by rubric id.

    Raises:
        RubricError: on the first file that fails, or on two files with one id.
    """
    if not folder.is_dir():
        raise RubricError(f"{folder}: rubric folder not found")
    rubrics: dict[str, Rubric] = {}
    for path in sorted(folder.glob("*.toml")):
        rubric = load_rubric(path)
        if rubric.id in rubrics:
            raise RubricError(f"{path}: rubric id {rubric.id!r} is already used by another file")
        rubrics[rubric.id] = rubric
    if not rubrics:
        raise RubricError(f"{folder}: no rubric files (*.toml) found")
    return rubrics
