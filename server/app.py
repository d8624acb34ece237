"""The Litestar application: wiring, start-up, headers and the health endpoints."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar, Request, Response, get
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.exceptions import (
    ValidationException,
)
from litestar.logging import LoggingConfig
from litestar.openapi import OpenAPIConfig
from litestar.static_files import create_static_files_router

from server.api_rubrics import get_rubric, list_rubrics, server_config, upload_rubric
from server.api_workshops import (
    create_workshop,
    delete_workshop,
    export_workshop_csv,
    export_workshop_json,
    join_info,
    join_qr,
)
from server.collection import keep_collections_short, watch_collection_pauses
from server.connection import watch_connections
from server.hub import Hub
from server.pages import CLIENT_DIR, console_page, home_page, phone_page, projector_page
from server.protocol import protocol_schema
from server.report_routes import REPORT_ROUTES
from server.rubric import load_rubric_folder
from server.rubric_library import (
    RubricLibrary,
)
from server.security import (
    CONTENT_SECURITY_POLICY,
    RateLimiter,
)
from server.settings import Settings
from server.socket import workshop_socket
from server.store import EventStore, StoreUnavailable
from server.store.redis import RedisEventStore
from server.store.sqlite import SqliteEventStore
from server.web import WRONG_CODES_PER_MINUTE, hub_of, public_base

__all__ = ("create_app",)

logger = logging.getLogger(__name__)


@get("/healthz", sync_to_thread=False)
def healthz() -> dict[str, str]:
    """Report that the web process is up."""
    return {"status": "ok"}


@get("/readyz")
async def readyz(state: State) -> Response[dict[str, str]]:
    """Report whether the event store can be reached; 503 when it cannot."""
    try:
        await hub_of(state).store.check()
    except StoreUnavailable as error:
        return Response({"status": "unavailable", "store": str(error)}, status_code=503)
    return Response({"status": "ready", "store": "ok"})


@get("/api/protocol", sync_to_thread=False)
def protocol() -> dict[str, Any]:
    """Return the JSON Schema of every websocket message in both directions."""
    return protocol_schema()


def _validation_message(_: Request[Any, Any, Any], error: ValidationException) -> Response[Any]:
    """Return a 400 response with one sentence naming each invalid field."""
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


class _QuietSocketLines(logging.Filter):
    """Drop uvicorn's lines about each websocket that opens or closes. A room of
    10,000 phones writes 30,000 of them, which take CPU while people join and bury
    the lines that matter; ``LOG_LEVEL=DEBUG`` keeps them."""

    NOISE = frozenset({'%s - "WebSocket %s" [accepted]', "connection open", "connection closed"})

    def filter(self, record: logging.LogRecord) -> bool:
        return record.msg not in self.NOISE


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
        hub = app.state.hub = Hub(store)
        if settings.log_level.upper() != "DEBUG":
            logging.getLogger("uvicorn.error").addFilter(_QuietSocketLines())
        # Everything loaded so far lives as long as the process. Freezing it keeps it
        # out of the collector's way, so full collections with many sockets stay short.
        gc.freeze()
        watch_collection_pauses(hub.connection_count)
        watcher = asyncio.create_task(watch_connections(hub.all_connections))
        freezer = asyncio.create_task(keep_collections_short(hub))
        logger.info("store opened in %s; rubrics: %s", where, ", ".join(library.rubrics))
        try:
            yield
        finally:
            watcher.cancel()
            freezer.cancel()
            await store.close()
            logger.info("store closed")

    def base_url_for(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
        return public_base(settings, connection)

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
                "public_base": base_url_for,
                "join_limiter": RateLimiter(rate=WRONG_CODES_PER_MINUTE, period=60),
            }
        ),
        after_request=_add_security_headers,
        exception_handlers={ValidationException: _validation_message},
        openapi_config=OpenAPIConfig(title="Common Ground", version="0.1.0", path="/schema"),
        logging_config=LoggingConfig(
            root={"level": settings.log_level, "handlers": ["queue_listener"]},
            log_exceptions="always",
            # Client errors get a response with a message; they are not server faults.
            disable_stack_trace={400, 401, 403, 404, 405},
        ),
    )
