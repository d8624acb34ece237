"""Access controls of the web layer: origins, organiser password, rate limits, headers."""

from __future__ import annotations

import hmac
import time
from collections import OrderedDict
from typing import Any
from urllib.parse import urlsplit

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException

from server.domain import token_digest

__all__ = (
    "CONTENT_SECURITY_POLICY",
    "RateLimiter",
    "bearer_credentials",
    "check_facilitator",
    "check_organiser",
    "check_secret",
    "client_address",
    "origin_allowed",
)

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
"""No inline script or style anywhere: every page loads its code from /static."""


def check_secret(presented: str, expected: str) -> bool:
    """Compare two secrets in constant time."""
    return hmac.compare_digest(presented.encode(), expected.encode())


def bearer_credentials(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    """Return the credentials of an ``Authorization: Bearer ...`` header, if any."""
    scheme, _, credentials = connection.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        return None
    return credentials.strip()


def check_facilitator(connection: ASGIConnection[Any, Any, Any, Any], digest: str) -> None:
    """Raise 401 unless the request carries the facilitator token whose SHA-256 is ``digest``."""
    token = bearer_credentials(connection)
    if token is None:
        raise NotAuthorizedException(
            "Send the facilitator token as the header 'Authorization: Bearer <token>'."
        )
    if not hmac.compare_digest(token_digest(token), digest):
        raise NotAuthorizedException("That facilitator token does not match this workshop.")


def check_organiser(
    connection: ASGIConnection[Any, Any, Any, Any], password: str | None, action: str
) -> None:
    """Raise 401 unless the organiser password is unset or sent as a Bearer credential.

    ``action`` completes the error message, e.g. "create workshops".
    """
    if password is None:
        return
    presented = bearer_credentials(connection)
    if presented is None or not check_secret(presented, password):
        raise NotAuthorizedException(
            f"This server needs the organiser password to {action}; send it as "
            "'Authorization: Bearer <password>'."
        )


def origin_allowed(connection: ASGIConnection[Any, Any, Any, Any], public_url: str | None) -> bool:
    """Tell whether a websocket handshake comes from one of our own pages.

    Browsers always send ``Origin``; a handshake without one comes from a program
    that is not a browser, which cannot carry a visitor's session, so it is allowed.
    A page of another site is rejected, so it cannot drive a workshop from a
    visitor's browser.
    """
    origin = _raw_header(connection, b"origin")
    if origin is None:
        return True
    parts = urlsplit(origin)
    if public_url:
        public = urlsplit(public_url)
        if (parts.scheme, parts.netloc) == (public.scheme, public.netloc):
            return True
    return parts.netloc == (_raw_header(connection, b"host") or "")


def _raw_header(connection: ASGIConnection[Any, Any, Any, Any], name: bytes) -> str | None:
    """Return one header from the ASGI scope. Unlike ``connection.headers`` this
    builds no header map, which every websocket would keep for as long as it is open
    (about 1.2 KB per connection)."""
    for key, value in connection.scope["headers"]:
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def client_address(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    """Return the client's IP address as uvicorn reports it (behind trusted proxies)."""
    client = connection.client
    return client.host if client else "unknown"


class RateLimiter:
    """Token buckets per key: ``rate`` attempts per ``period`` seconds, in bursts of ``rate``.

    Callers record only the attempts that count, such as wrong join codes, and check
    ``blocked`` before serving a key.

    Only the ``max_keys`` most recently seen keys are remembered, so a flood of
    addresses cannot exhaust memory.
    """

    def __init__(self, rate: int, period: float, max_keys: int = 10_000) -> None:
        self._rate = rate
        self._period = period
        self._max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def _tokens(self, key: str, now: float) -> float:
        tokens, updated = self._buckets.get(key, (float(self._rate), now))
        return min(float(self._rate), tokens + (now - updated) * self._rate / self._period)

    def blocked(self, key: str, now: float | None = None) -> bool:
        """Tell whether ``key`` has used up its attempts, without taking one."""
        now = time.monotonic() if now is None else now
        return self._tokens(key, now) < 1

    def record(self, key: str, now: float | None = None) -> None:
        """Take one attempt from ``key``'s bucket."""
        now = time.monotonic() if now is None else now
        tokens = max(0.0, self._tokens(key, now) - 1)
        self._buckets.pop(key, None)
        self._buckets[key] = (tokens, now)
        while len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)
