"""HTTP routes for reports: XLSX and Markdown exports, the export schema, comparisons of
workshops and the printable report and comparison pages.

The CSV and JSON exports live in :mod:`server.api_workshops` beside the other workshop routes.
"""

from __future__ import annotations

import hmac
import time
from typing import Any

from litestar import Request, Response, get
from litestar.datastructures import State
from litestar.exceptions import NotAuthorizedException, NotFoundException, ValidationException
from litestar.params import FromPath, Parameter
from litestar.response import File
from litestar.types import ControllerRouterHandler

from server.compare import MAX_WORKSHOPS, Comparison, ComparisonError, build_comparison
from server.compare import comparison_csv as build_comparison_csv
from server.domain import token_digest
from server.export import WorkshopExport, build_export, export_schema
from server.export_markdown import MARKDOWN_MEDIA_TYPE, export_markdown
from server.export_xlsx import XLSX_MEDIA_TYPE, export_xlsx
from server.hub import Hub, WorkshopRuntime
from server.security import bearer_credentials, check_facilitator, check_secret
from server.settings import PROJECT_ROOT

__all__ = ("REPORT_ROUTES",)

CLIENT_DIR = PROJECT_ROOT / "client"


async def _runtime(state: State, workshop_id: str) -> WorkshopRuntime:
    hub: Hub = state.hub
    runtime = await hub.by_id(workshop_id)
    if runtime is None:
        raise NotFoundException(f"There is no workshop {workshop_id!r}.")
    return runtime


async def _facilitated_export(
    state: State, request: Request[Any, Any, Any], workshop_id: str
) -> WorkshopExport:
    runtime = await _runtime(state, workshop_id)
    check_facilitator(request, runtime.state.created.facilitator_digest)
    return build_export(runtime.state, now=time.time())


def _attachment(body: bytes, media_type: str, filename: str) -> Response[bytes]:
    return Response(
        body,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@get("/api/workshops/{workshop_id:str}/export.xlsx")
async def export_workshop_xlsx(
    state: State, request: Request[Any, Any, Any], workshop_id: FromPath[str]
) -> Response[bytes]:
    """Export a workshop's results as an XLSX workbook; needs the facilitator token."""
    export = await _facilitated_export(state, request, workshop_id)
    return _attachment(export_xlsx(export), XLSX_MEDIA_TYPE, f"workshop-{workshop_id}.xlsx")


@get("/api/workshops/{workshop_id:str}/export.md")
async def export_workshop_markdown(
    state: State, request: Request[Any, Any, Any], workshop_id: FromPath[str]
) -> Response[bytes]:
    """Export a workshop's results as Markdown for minutes; needs the facilitator token."""
    export = await _facilitated_export(state, request, workshop_id)
    body = export_markdown(export).encode("utf-8")
    return _attachment(body, MARKDOWN_MEDIA_TYPE, f"workshop-{workshop_id}.md")


@get("/api/schema/export.json", sync_to_thread=False)
def workshop_export_schema() -> dict[str, Any]:
    """Return the JSON Schema of the JSON export, generated from its msgspec Structs."""
    return export_schema()


def _workshop_ids(workshops: str) -> list[str]:
    ids = [part.strip() for part in workshops.split(",") if part.strip()]
    if not 2 <= len(ids) <= MAX_WORKSHOPS:
        raise ValidationException(
            f"workshops: list 2 to {MAX_WORKSHOPS} workshop ids separated by commas, not {len(ids)}"
        )
    return ids


def _check_comparison_access(
    request: Request[Any, Any, Any], state: State, runtimes: list[WorkshopRuntime]
) -> None:
    """Allow the organiser, or a caller holding the facilitator token of every workshop."""
    credentials = bearer_credentials(request)
    if credentials is None:
        raise NotAuthorizedException(
            "Send 'Authorization: Bearer <token>,<token>,...' with the facilitator token of "
            "each workshop in the order of `workshops`, or the organiser password."
        )
    password = state.settings.organiser_password
    if password is not None and check_secret(credentials, password):
        return
    tokens = [token.strip() for token in credentials.split(",")]
    if len(tokens) != len(runtimes):
        raise NotAuthorizedException(
            f"{len(tokens)} tokens were sent for {len(runtimes)} workshops; send one "
            "facilitator token per workshop, in the order of `workshops`."
        )
    for position, (runtime, token) in enumerate(zip(runtimes, tokens, strict=True), start=1):
        expected = runtime.state.created.facilitator_digest
        if not hmac.compare_digest(token_digest(token), expected):
            raise NotAuthorizedException(
                f"Token {position} does not match workshop {runtime.workshop_id!r}."
            )


async def _comparison(state: State, request: Request[Any, Any, Any], workshops: str) -> Comparison:
    runtimes = [await _runtime(state, workshop_id) for workshop_id in _workshop_ids(workshops)]
    _check_comparison_access(request, state, runtimes)
    try:
        return build_comparison([runtime.state for runtime in runtimes], now=time.time())
    except ComparisonError as error:
        raise ValidationException(str(error)) from None


WorkshopsQuery = Parameter(
    description="Workshop ids separated by commas, in the order to show them", min_length=1
)


@get("/api/compare")
async def compare_workshops(
    state: State, request: Request[Any, Any, Any], workshops: str = WorkshopsQuery
) -> Comparison:
    """Compare workshops of one rubric side by side; needs every workshop's facilitator
    token, comma-separated in the same order, or the organiser password."""
    return await _comparison(state, request, workshops)


@get("/api/compare.csv")
async def compare_workshops_csv(
    state: State, request: Request[Any, Any, Any], workshops: str = WorkshopsQuery
) -> Response[bytes]:
    """Return the comparison as CSV, with the access rules of ``/api/compare``."""
    comparison = await _comparison(state, request, workshops)
    body = build_comparison_csv(comparison).encode("utf-8")
    return _attachment(body, "text/csv", "comparison.csv")


def _page(name: str) -> File:
    return File(CLIENT_DIR / name, content_disposition_type="inline", media_type="text/html")


@get("/report/{workshop_id:str}", sync_to_thread=False, include_in_schema=False)
def report_page(workshop_id: FromPath[str]) -> File:
    return _page("report.html")


@get("/compare", sync_to_thread=False, include_in_schema=False)
def compare_page() -> File:
    return _page("compare.html")


REPORT_ROUTES: list[ControllerRouterHandler] = [
    export_workshop_xlsx,
    export_workshop_markdown,
    workshop_export_schema,
    compare_workshops,
    compare_workshops_csv,
    report_page,
    compare_page,
]
