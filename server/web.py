"""Helpers shared by the HTTP handlers: the hub, workshops, access checks, limits."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.exceptions import (
    HTTPException,
    NotFoundException,
)

from server.hub import Hub, WorkshopRuntime
from server.rubric_library import (
    RubricLibrary,
)
from server.security import (
    RateLimiter,
    check_facilitator,
    check_organiser,
)
from server.settings import Settings

__all__ = (
    "public_base",
    "hub_of",
    "workshop_runtime",
    "require_facilitator",
    "WRONG_CODES_PER_MINUTE",
    "TooManyRequestsException",
    "join_limiter",
    "require_organiser",
    "rubric_library",
    "ConflictException",
)


def public_base(settings: Settings, connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    """Return the base URL of links that people open, such as join links."""
    if settings.public_url:
        return settings.public_url
    base = str(connection.base_url).rstrip("/")
    # A websocket's own URL is ws:// or wss://; the pages it links to are http(s).
    if base.startswith("ws"):
        base = "http" + base[2:]
    return base


def hub_of(state: State) -> Hub:
    hub: Hub = state.hub
    return hub


async def workshop_runtime(state: State, workshop_id: str) -> WorkshopRuntime:
    runtime = await hub_of(state).by_id(workshop_id)
    if runtime is None:
        raise NotFoundException(f"There is no workshop {workshop_id!r}.")
    return runtime


def require_facilitator(request: Request[Any, Any, Any], runtime: WorkshopRuntime) -> None:
    check_facilitator(request, runtime.state.created.facilitator_digest)


WRONG_CODES_PER_MINUTE = 30
"""Wrong join codes one client address may try per minute, over HTTP and websocket
together; at that pace guessing one of 32**6 codes takes decades."""


class TooManyRequestsException(HTTPException):
    status_code = 429


def join_limiter(state: State) -> RateLimiter:
    limiter: RateLimiter = state.join_limiter
    return limiter


def require_organiser(request: Request[Any, Any, Any], settings: Settings) -> None:
    check_organiser(request, settings.organiser_password, "create workshops")


def rubric_library(state: State) -> RubricLibrary:
    library: RubricLibrary = state.rubric_library
    return library


class ConflictException(HTTPException):
    status_code = 409
