"""The HTML pages, served from client/."""

from __future__ import annotations

from litestar import get
from litestar.params import FromPath
from litestar.response import File

from server.settings import PROJECT_ROOT

__all__ = ("CLIENT_DIR", "home_page", "console_page", "projector_page", "phone_page")


CLIENT_DIR = PROJECT_ROOT / "client"


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
