"""HTTP handlers for rubrics: listing, fetching and uploading custom ones."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, get, post
from litestar.datastructures import State
from litestar.exceptions import (
    NotFoundException,
    ValidationException,
)
from litestar.params import FromPath
from litestar.status_codes import HTTP_201_CREATED

from server.rubric import Role, Rubric, RubricError
from server.rubric_library import (
    MAX_RUBRIC_BYTES,
    MAX_UPLOADED_RUBRICS,
    LibraryFull,
    RubricTaken,
)
from server.security import (
    check_organiser,
)
from server.web import ConflictException, rubric_library

__all__ = (
    "ServerConfig",
    "PrincipleSummary",
    "RubricSummary",
    "server_config",
    "list_rubrics",
    "get_rubric",
    "upload_rubric",
)


class ServerConfig(msgspec.Struct):
    """Facts about this server that the create page needs."""

    organiser_password_required: bool


class PrincipleSummary(msgspec.Struct):
    id: str
    number: int
    title: str
    has_levels: bool


class RubricSummary(msgspec.Struct):
    id: str
    title: str
    levels: list[str]
    roles: list[Role]
    principles: list[PrincipleSummary]


@get("/api/config", sync_to_thread=False)
def server_config(state: State) -> ServerConfig:
    """Return what a page needs to know before creating a workshop."""
    return ServerConfig(organiser_password_required=state.settings.organiser_password is not None)


def _rubric_summary(rubric: Rubric) -> RubricSummary:
    return RubricSummary(
        id=rubric.id,
        title=rubric.title,
        levels=rubric.levels,
        roles=rubric.roles,
        principles=[
            PrincipleSummary(id=p.id, number=p.number, title=p.title, has_levels=p.has_levels)
            for p in rubric.principles
        ],
    )


@get("/api/rubrics")
async def list_rubrics(state: State) -> list[RubricSummary]:
    """List the rubrics a workshop can use: the shipped files, then uploads."""
    library = rubric_library(state)
    await library.refresh()
    return [_rubric_summary(rubric) for rubric in library.rubrics.values()]


@get("/api/rubrics/{rubric_id:str}")
async def get_rubric(state: State, rubric_id: FromPath[str]) -> Rubric:
    """Return one rubric in full."""
    rubric = await rubric_library(state).get(rubric_id)
    if rubric is None:
        raise NotFoundException(f"There is no rubric {rubric_id!r}.")
    return rubric


@post("/api/rubrics", status_code=HTTP_201_CREATED, request_max_body_size=MAX_RUBRIC_BYTES)
async def upload_rubric(state: State, request: Request[Any, Any, Any]) -> RubricSummary:
    """Add a custom rubric: the body is a rubric file's TOML text, in the format of the
    shipped NUS rubric. Needs the organiser password when the server has one."""
    check_organiser(request, state.settings.organiser_password, "upload rubrics")
    source = await request.body()
    if not source.strip():
        raise ValidationException("body: send the rubric file's TOML text as the request body")
    try:
        rubric = await rubric_library(state).upload(source)
    except RubricError as error:
        raise ValidationException(str(error)) from None
    except RubricTaken as taken:
        raise ConflictException(
            f"id: the rubric id {str(taken)!r} is already used; give the rubric a new `id`."
        ) from None
    except LibraryFull:
        raise ConflictException(
            f"This server already stores {MAX_UPLOADED_RUBRICS} uploaded rubrics, "
            "the most it keeps; ask its operator to make room."
        ) from None
    return _rubric_summary(rubric)
