"""HTTP handlers for workshops: creation, join lookup, QR code, exports, deletion."""

from __future__ import annotations

import io
import logging
import time
from typing import Annotated, Any

import msgspec
import segno
from litestar import Request, Response, delete, get, post
from litestar.datastructures import State
from litestar.exceptions import (
    NotFoundException,
    ValidationException,
)
from litestar.params import FromPath
from litestar.status_codes import HTTP_201_CREATED

from server import domain
from server.export import build_export, export_csv, export_json
from server.rubric import Role
from server.security import (
    client_address,
)
from server.web import (
    TooManyRequestsException,
    hub_of,
    join_limiter,
    public_base,
    require_facilitator,
    require_organiser,
    rubric_library,
    workshop_runtime,
)

__all__ = (
    "DEFAULT_RUBRIC",
    "CreateWorkshop",
    "CreatedWorkshop",
    "JoinInfo",
    "create_workshop",
    "join_info",
    "join_qr",
    "export_workshop_json",
    "export_workshop_csv",
    "delete_workshop",
)

logger = logging.getLogger(__name__)


DEFAULT_RUBRIC = "nus-academic-support"

Title = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class CreateWorkshop(msgspec.Struct, forbid_unknown_fields=True):
    """A request to create a workshop."""

    title: Title
    scope: domain.Scope
    """One of course, department, faculty or institution."""
    unit: Title
    """The course, department, faculty or institution benchmarked."""
    rubric: str = DEFAULT_RUBRIC
    agenda: list[str] | None = None
    """Principle ids in the order to discuss them; all of the rubric's by default."""
    small_group_threshold: Annotated[int, msgspec.Meta(ge=1, le=100)] = 3
    """A role with fewer voters than this in a round has its split hidden."""


class CreatedWorkshop(msgspec.Struct):
    """A new workshop and its links; ``facilitator_url`` and the token grant control."""

    id: str
    join_code: str
    facilitator_token: str
    facilitator_url: str
    projector_url: str
    join_url: str


class JoinInfo(msgspec.Struct):
    """Workshop details a phone shows before joining."""

    workshop: str
    title: str
    unit: str
    roles: list[Role]


@post("/api/workshops", status_code=HTTP_201_CREATED)
async def create_workshop(
    state: State, request: Request[Any, Any, Any], data: CreateWorkshop
) -> CreatedWorkshop:
    """Create a workshop and return its join code and its links."""
    require_organiser(request, state.settings)
    hub = hub_of(state)
    rubric = await rubric_library(state).get(data.rubric)
    if rubric is None:
        known = ", ".join(rubric_library(state).rubrics)
        raise ValidationException(f"rubric: unknown rubric {data.rubric!r}; choose one of: {known}")
    for field_name in ("title", "unit"):
        if not getattr(data, field_name).strip():
            raise ValidationException(f"{field_name}: must not be blank")

    agenda = data.agenda if data.agenda is not None else [p.id for p in rubric.principles]
    if not agenda:
        raise ValidationException("agenda: must list at least one principle")
    for item in agenda:
        if rubric.principle(item) is None:
            raise ValidationException(f"agenda: {item!r} is not a principle of {rubric.id}")
    if len(set(agenda)) != len(agenda):
        raise ValidationException("agenda: lists a principle more than once")

    runtime, token = await hub.create_workshop(
        title=data.title.strip(),
        scope=data.scope,
        unit=data.unit.strip(),
        rubric=rubric,
        agenda=agenda,
        small_group_threshold=data.small_group_threshold,
    )
    base = public_base(state.settings, request)
    created = runtime.state.created
    return CreatedWorkshop(
        id=created.workshop_id,
        join_code=created.join_code,
        facilitator_token=token,
        facilitator_url=f"{base}/console/{created.workshop_id}#token={token}",
        projector_url=f"{base}/projector/{created.workshop_id}",
        join_url=f"{base}/j/{created.join_code}",
    )


@get("/api/join/{code:str}")
async def join_info(state: State, request: Request[Any, Any, Any], code: FromPath[str]) -> JoinInfo:
    """Look up a join code before a phone joins; wrong codes are rate-limited per address."""
    limiter = join_limiter(state)
    address = client_address(request)
    if limiter.blocked(address):
        raise TooManyRequestsException(
            "Too many wrong join codes from this network; wait a minute and try again."
        )
    runtime = await hub_of(state).by_code(code)
    if runtime is None:
        limiter.record(address)
        raise NotFoundException(f"No workshop has the join code {code!r}; check the code.")
    created = runtime.state.created
    return JoinInfo(
        workshop=created.workshop_id,
        title=created.title,
        unit=created.unit,
        roles=runtime.state.rubric.roles,
    )


@get("/api/workshops/{workshop_id:str}/qr.svg")
async def join_qr(
    state: State, request: Request[Any, Any, Any], workshop_id: FromPath[str]
) -> Response[bytes]:
    """Return the QR code of a workshop's join URL as SVG."""
    runtime = await workshop_runtime(state, workshop_id)
    url = f"{public_base(state.settings, request)}/j/{runtime.state.created.join_code}"
    buffer = io.BytesIO()
    segno.make_qr(url, error="m").save(
        buffer, kind="svg", scale=10, border=2, xmldecl=False, title="QR code to join"
    )
    return Response(buffer.getvalue(), media_type="image/svg+xml")


@get("/api/workshops/{workshop_id:str}/export.json")
async def export_workshop_json(
    state: State, request: Request[Any, Any, Any], workshop_id: FromPath[str]
) -> Response[bytes]:
    """Export a workshop's results as JSON; needs the facilitator token."""
    runtime = await workshop_runtime(state, workshop_id)
    require_facilitator(request, runtime)
    body = export_json(build_export(runtime.state, now=time.time()))
    return Response(
        body,
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="workshop-{workshop_id}.json"'},
    )


@get("/api/workshops/{workshop_id:str}/export.csv")
async def export_workshop_csv(
    state: State, request: Request[Any, Any, Any], workshop_id: FromPath[str]
) -> Response[bytes]:
    """Export a workshop's results as CSV; needs the facilitator token."""
    runtime = await workshop_runtime(state, workshop_id)
    require_facilitator(request, runtime)
    body = export_csv(build_export(runtime.state, now=time.time())).encode("utf-8")
    return Response(
        body,
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="workshop-{workshop_id}.csv"'},
    )


@delete("/api/workshops/{workshop_id:str}", status_code=204)
async def delete_workshop(
    state: State, request: Request[Any, Any, Any], workshop_id: FromPath[str]
) -> None:
    """Delete a workshop and all its data; needs the facilitator token."""
    runtime = await workshop_runtime(state, workshop_id)
    require_facilitator(request, runtime)
    await hub_of(state).store.delete(workshop_id)
    logger.info("workshop %s deleted by its facilitator", workshop_id)
