"""Settings read from the environment, with defaults for one laptop."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ("PROJECT_ROOT", "Settings")

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    """Server settings: address, data and rubric folders, limits and timeouts."""

    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = PROJECT_ROOT / "data"
    """Folder of the embedded SQLite store."""
    rubric_dir: Path = PROJECT_ROOT / "rubric"
    public_url: str | None = None
    """Base URL that phones use to reach the server, e.g. ``https://ground.example.ac.uk``;
    without it, join links use the address the console was opened at."""
    log_level: str = "INFO"
    retention_days: float = 180
    """Days after its last change that a workshop and all its data are deleted."""
    organiser_password: str | None = None
    """When set, creating a workshop needs it as ``Authorization: Bearer <password>``."""
    max_participants: int = 20_000
    """Participants one workshop accepts; the next one to join is rejected as full."""
    ping_interval: float = 20.0
    """Seconds between websocket pings; a client that misses a pong for ``ping_timeout``
    seconds more is disconnected, which is how a phone that vanished is noticed."""
    ping_timeout: float = 20.0
    per_message_deflate: bool = False
    """Whether websockets may compress messages. Off by default: with 10,000 phones it
    took 73 KB of server memory per idle phone against 24 KB without, and a reveal
    cost 3.7 times the CPU per phone and missed 500 ms (docs/benchmarks.md)."""
    redis_url: str | None = None
    """Redis server shared by several workers, e.g. ``redis://127.0.0.1:6379/0``; without
    it, workshops are stored in SQLite under ``data_dir`` and one process serves them."""

    @classmethod
    def from_environment(cls) -> Settings:
        """Read the settings from ``HOST``, ``PORT``, ``DATA_DIR``, ``RUBRIC_DIR``,
        ``PUBLIC_URL``, ``LOG_LEVEL``, ``REDIS_URL``, ``RETENTION_DAYS``,
        ``ORGANISER_PASSWORD``, ``MAX_PARTICIPANTS``, ``WS_PING_INTERVAL``,
        ``WS_PING_TIMEOUT`` and ``WS_PER_MESSAGE_DEFLATE``."""
        environment = os.environ
        defaults = cls()
        port = int(_positive_number(environment, "PORT", defaults.port))
        public_url = environment.get("PUBLIC_URL") or None
        return cls(
            host=environment.get("HOST", defaults.host),
            port=port,
            data_dir=Path(environment.get("DATA_DIR", defaults.data_dir)),
            rubric_dir=Path(environment.get("RUBRIC_DIR", defaults.rubric_dir)),
            public_url=public_url.rstrip("/") if public_url else None,
            log_level=environment.get("LOG_LEVEL", defaults.log_level).upper(),
            redis_url=environment.get("REDIS_URL") or None,
            organiser_password=environment.get("ORGANISER_PASSWORD") or None,
            ping_interval=_positive_number(environment, "WS_PING_INTERVAL", defaults.ping_interval),
            ping_timeout=_positive_number(environment, "WS_PING_TIMEOUT", defaults.ping_timeout),
            per_message_deflate=_flag(environment, "WS_PER_MESSAGE_DEFLATE"),
            max_participants=int(
                _positive_number(environment, "MAX_PARTICIPANTS", defaults.max_participants)
            ),
            retention_days=_positive_number(environment, "RETENTION_DAYS", defaults.retention_days),
        )


def _positive_number(environment: os._Environ[str], name: str, default: float) -> float:
    text = environment.get(name)
    if text is None or text == "":
        return default
    try:
        value = float(text)
    except ValueError:
        raise SystemExit(f"{name} must be a number, not {text!r}") from None
    if value <= 0:
        raise SystemExit(f"{name} must be above 0, not {text!r}")
    return value


def _flag(environment: os._Environ[str], name: str) -> bool:
    text = environment.get(name, "").strip().lower()
    if text in ("", "0", "false", "no", "off"):
        return False
    if text in ("1", "true", "yes", "on"):
        return True
    raise SystemExit(f"{name} must be true or false, not {text!r}")
