"""Start the Common Ground web server: ``python -m server``."""

from __future__ import annotations

import argparse
import os

import uvicorn

from server.rubric import RubricError
from server.settings import Settings

GRACEFUL_SHUTDOWN_SECONDS = 10
"""Seconds a stopping server waits for its connections to close before closing them."""
MAX_WEBSOCKET_MESSAGE = 1024 * 1024
"""uvicorn closes a connection whose message is larger than this (code 1009); smaller
oversized messages get an error from the app and the connection stays open."""


def main() -> None:
    """Parse the command line, then serve until interrupted."""
    parser = argparse.ArgumentParser(description="Run the Common Ground workshop server.")
    parser.add_argument("--host", help="address to listen on (default: $HOST or 127.0.0.1)")
    parser.add_argument("--port", type=int, help="TCP port (default: $PORT or 8000)")
    parser.add_argument(
        "--workers",
        type=int,
        help="worker processes sharing the port; above 1 needs REDIS_URL "
        "(default: $WEB_CONCURRENCY or 1)",
    )
    arguments = parser.parse_args()

    if arguments.host:
        os.environ["HOST"] = arguments.host
    if arguments.port:
        os.environ["PORT"] = str(arguments.port)
    settings = Settings.from_environment()
    workers_text = str(arguments.workers or os.environ.get("WEB_CONCURRENCY") or 1)
    if not workers_text.isdigit() or int(workers_text) < 1:
        raise SystemExit(
            f"The number of workers must be a whole number from 1, not {workers_text!r}."
        )
    workers = int(workers_text)
    if workers > 1 and not settings.redis_url:
        raise SystemExit(
            f"{workers} workers were requested, but the embedded store serves one process "
            "only; set REDIS_URL to share workshops between workers, or run one worker."
        )

    from server.app import create_app

    try:
        app = create_app(settings)
    except RubricError as error:
        raise SystemExit(f"Cannot load the rubrics: {error}") from None

    wildcard = ("127.0.0.1", "0.0.0.0", "::")  # noqa: S104 - only to print a reachable address
    shown_host = "localhost" if settings.host in wildcard else settings.host
    base = settings.public_url or f"http://{shown_host}:{settings.port}"
    print(f"Common Ground is running. Create a workshop at {base}/", flush=True)
    where = "Redis at REDIS_URL" if settings.redis_url else settings.data_dir
    print(f"Data is stored in {where}", flush=True)

    options = {
        "host": settings.host,
        "port": settings.port,
        "ws_max_size": MAX_WEBSOCKET_MESSAGE,
        "proxy_headers": True,
        "ws_ping_interval": settings.ping_interval,
        "ws_ping_timeout": settings.ping_timeout,
        "ws_per_message_deflate": settings.per_message_deflate,
        "log_level": settings.log_level.lower(),
        # A client that stopped reading would otherwise hold up a restart for ever.
        "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_SECONDS,
    }
    if workers == 1:
        uvicorn.run(app, **options)
    else:
        # Each worker process builds its own app from the same environment.
        uvicorn.run("server.app:create_app", factory=True, workers=workers, **options)


if __name__ == "__main__":
    main()
