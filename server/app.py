"""The Litestar application: HTTP API, pages, QR codes, exports and the websocket."""

from __future__ import annotations

import gc
import io
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import msgspec
import segno
from litestar import Litestar, Request, Response, delete, get, post
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.exceptions import (
    HTTPException,
    NotFoundException,
    ValidationException,
)
from litestar.logging import LoggingConfig
from litestar.openapi import OpenAPIConfig
from litestar.params import FromPath
from litestar.response import File
from litestar.static_files import create_static_files_router
from litestar.status_codes import HTTP_201_CREATED

from server import domain
from server.export import build_export, export_csv, export_json
from server.hub import Hub, WorkshopRuntime
from server.protocol import protocol_schema
from server.report_routes import REPORT_ROUTES
from server.rubric import Role, Rubric, RubricError, load_rubric_folder
from server.rubric_library import (
    MAX_RUBRIC_BYTES,
    MAX_UPLOADED_RUBRICS,
    LibraryFull,
    RubricLibrary,
    RubricTaken,
)
from server.security import (
    CONTENT_SECURITY_POLICY,
    RateLimiter,
    check_facilitator,
    check_organiser,
    client_address,
)
from server.settings import PROJECT_ROOT, Settings
from server.socket import workshop_socket
from server.store import EventStore, StoreUnavailable
from server.store.redis import RedisEventStore
from server.store.sqlite import SqliteEventStore

__all__ = ("create_app",)

logger = logging.getLogger(__name__)

CLIENT_DIR = PROJECT_ROOT / "client"
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


class ServerConfig(msgspec.Struct):
    """What the create page needs to know about this server."""

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


class JoinInfo(msgspec.Struct):
    """What a phone needs to show before joining a workshop."""

    workshop: str
    title: str
    unit: str
    roles: list[Role]


def _public_base(settings: Settings, connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    if settings.public_url:
        return settings.public_url
    base = str(connection.base_url).rstrip("/")
    # A websocket's own URL is ws:// or wss://; the pages it links to are http(s).
    if base.startswith("ws"):
        base = "http" + base[2:]
    return base


def _hub(state: State) -> Hub:
    hub: Hub = state.hub
    return hub


async def _runtime(state: State, workshop_id: str) -> WorkshopRuntime:
    runtime = await _hub(state).by_id(workshop_id)
    if runtime is None:
        raise NotFoundException(f"There is no workshop {workshop_id!r}.")
    return runtime


def _check_facilitator(request: Request[Any, Any, Any], runtime: WorkshopRuntime) -> None:
    check_facilitator(request, runtime.state.created.facilitator_digest)


WRONG_CODES_PER_MINUTE = 30
"""Wrong join codes one client address may try per minute, over HTTP and websocket
together; at that pace guessing one of 32**6 codes takes decades."""


class TooManyRequestsException(HTTPException):
    status_code = 429


def join_limiter(state: State) -> RateLimiter:
    limiter: RateLimiter = state.join_limiter
    return limiter


def _check_organiser(request: Request[Any, Any, Any], settings: Settings) -> None:
    check_organiser(request, settings.organiser_password, "create workshops")


@get("/healthz", sync_to_thread=False)
def healthz() -> dict[str, str]:
    """Report that the web process is up."""
    return {"status": "ok"}


@get("/readyz")
async def readyz(state: State) -> Response[dict[str, str]]:
    """Report whether the event store can be reached; 503 when it cannot."""
    try:
        await _hub(state).store.check()
    except StoreUnavailable as error:
        return Response({"status": "unavailable", "store": str(error)}, status_code=503)
    return Response({"status": "ready", "store": "ok"})


@get("/api/config", sync_to_thread=False)
def server_config(state: State) -> ServerConfig:
    """Return what a page needs to know before creating a workshop."""
    return ServerConfig(organiser_password_required=state.settings.organiser_password is not None)


def _rubric_library(state: State) -> RubricLibrary:
    library: RubricLibrary = state.rubric_library
    return library


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
    library = _rubric_library(state)
    await library.refresh()
    return [_rubric_summary(rubric) for rubric in library.rubrics.values()]


@get("/api/rubrics/{rubric_id:str}")
async def get_rubric(state: State, rubric_id: FromPath[str]) -> Rubric:
    """Return one rubric in full."""
    rubric = await _rubric_library(state).get(rubric_id)
    if rubric is None:
        raise NotFoundException(f"There is no rubric {rubric_id!r}.")
    return rubric


class ConflictException(HTTPException):
    status_code = 409


@post("/api/rubrics", status_code=HTTP_201_CREATED, request_max_body_size=MAX_RUBRIC_BYTES)
async def upload_rubric(state: State, request: Request[Any, Any, Any]) -> RubricSummary:
    """Add a custom rubric: the body is a rubric file's TOML text, in the format of the
    shipped NUS rubric. Needs the organiser password when the server has one."""
    check_organiser(request, state.settings.organiser_password, "upload rubrics")
    source = await request.body()
    if not source.strip():
        raise ValidationException("body: send the rubric file's TOML text as the request body")
    try:
        rubric = await _rubric_library(state).upload(source)
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


@post("/api/workshops", status_code=HTTP_201_CREATED)
async def create_workshop(
    state: State, request: Request[Any, Any, Any], data: CreateWorkshop
) -> CreatedWorkshop:
    """Create a workshop and return its join code and its links."""
    _check_organiser(request, state.settings)
    hub = _hub(state)
    rubric = await _rubric_library(state).get(data.rubric)
    if rubric is None:
        known = ", ".join(hub.rubrics)
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
    base = _public_base(state.settings, request)
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
    runtime = await _hub(state).by_code(code)
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
    runtime = await _runtime(state, workshop_id)
    url = f"{_public_base(state.settings, request)}/j/{runtime.state.created.join_code}"
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
    runtime = await _runtime(state, workshop_id)
    _check_facilitator(request, runtime)
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
    runtime = await _runtime(state, workshop_id)
    _check_facilitator(request, runtime)
    body = export_csv(build_export(runtime.state, now=time.time())).encode("utf-8")
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="workshop-{workshop_id}.csv"'},
    )


@delete("/api/workshops/{workshop_id:str}", status_code=204)
async def delete_workshop(
    state: State, request: Request[Any, Any, Any], workshop_id: FromPath[str]
) -> None:
    """Delete a workshop and all its data; needs the facilitator token."""
    runtime = await _runtime(state, workshop_id)
    _check_facilitator(request, runtime)
    await _hub(state).store.delete(workshop_id)
    logger.info("workshop %s deleted by its facilitator", workshop_id)


@get("/api/protocol", sync_to_thread=False)
def protocol() -> dict[str, Any]:
    """Return the JSON Schema of every websocket message in both directions."""
    return protocol_schema()


def _page(name: str) -> File:
    return File(CLIENT_DIR / name, content_disposition_type="inline", media_type="text/html")


@get("/", sync_to_thread=False, include_in_schema=False)
def home_page() -> File:
    return _page("index.html")


@get("/console/{workshop_id:str}", sync_to_thread=False, include_in_schema=False)
def console_page(workshop_id: FromPath[str]) -> File:
    return _page("console.html")


@get("/projector/{workshop_id:str}", sync_to_thread=False, include_in_schema=False)
def projector_page(workshop_id: FromPath[str]) -> File:
    return _page("projector.html")


@get(["/j", "/j/{code:str}"], sync_to_thread=False, include_in_schema=False)
def phone_page(code: str | None = None) -> File:
    return _page("phone.html")


def _validation_message(_: Request[Any, Any, Any], error: ValidationException) -> Response[Any]:
    """Answer a bad request with one sentence naming each invalid field."""
    details = error.detail
    if isinstance(error.extra, list) and error.extra:
        parts = []
        for entry in error.extra:
            if isinstance(entry, dict):
                key = entry.get("key")
                message = entry.get("message", "")
                parts.append(f"{key}: {message}" if key else str(message))
        details = "; ".join(parts) or details
    return Response({"status_code": 400, "detail": details}, status_code=400)


LONG_COLLECTION = 0.1
"""Seconds a full garbage collection may pause the event loop before it is logged."""


def watch_collection_pauses() -> None:
    """Log every full garbage collection that pauses the event loop for too long."""
    started: list[float] = [0.0]

    def measure(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
            return
        paused = time.perf_counter() - started[0]
        if info["generation"] == 2 and paused > LONG_COLLECTION:
            logger.warning("a full garbage collection paused the server for %.0f ms", paused * 1000)

    gc.callbacks.append(measure)


def _add_security_headers(response: Response[Any]) -> Response[Any]:
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Frame-Options"] = "DENY"
    return response


def create_app(settings: Settings | None = None) -> Litestar:
    """Build the application; the store opens and rubrics load at start-up."""
    settings = settings or Settings.from_environment()
    rubrics = load_rubric_folder(settings.rubric_dir)
    retention = settings.retention_days * 86400
    store: EventStore
    if settings.redis_url:
        store = RedisEventStore(settings.redis_url, retention_seconds=retention)
        where = "Redis"
    else:
        store = SqliteEventStore(
            settings.data_dir / "workshops.sqlite3", retention_seconds=retention
        )
        where = str(settings.data_dir)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        await store.open()
        library = RubricLibrary(store, rubrics)
        await library.refresh()
        app.state.rubric_library = library
        app.state.hub = Hub(store, library.rubrics)
        # Everything loaded so far lives as long as the process; keep it out of the
        # collector's way so that full collections with many sockets stay short.
        gc.freeze()
        watch_collection_pauses()
        logger.info("store opened in %s; rubrics: %s", where, ", ".join(library.rubrics))
        try:
            yield
        finally:
            await store.close()
            logger.info("store closed")

    def public_base(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
        return _public_base(settings, connection)

    return Litestar(
        route_handlers=[
            healthz,
            readyz,
            server_config,
            delete_workshop,
            list_rubrics,
            get_rubric,
            upload_rubric,
            create_workshop,
            join_info,
            join_qr,
            export_workshop_json,
            export_workshop_csv,
            protocol,
            home_page,
            console_page,
            projector_page,
            phone_page,
            workshop_socket,
            *REPORT_ROUTES,
            create_static_files_router(path="/static", directories=[CLIENT_DIR], name="static"),
        ],
        lifespan=[lifespan],
        state=State(
            {
                "settings": settings,
                "public_base": public_base,
                "join_limiter": RateLimiter(rate=WRONG_CODES_PER_MINUTE, period=60),
            }
        ),
        after_request=_add_security_headers,
        exception_handlers={ValidationException: _validation_message},
        openapi_config=OpenAPIConfig(title="Common Ground", version="0.1.0", path="/schema"),
        logging_config=LoggingConfig(
            root={"level": settings.log_level, "handlers": ["queue_listener"]},
            log_exceptions="always",
            # Client errors are answered with a message and are not server faults.
            disable_stack_trace={400, 401, 403, 404, 405},
        ),
    )
