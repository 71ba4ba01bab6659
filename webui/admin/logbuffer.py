"""The last log lines of this instance, for the console's log page."""

from __future__ import annotations

from collections import deque
from typing import Any

from nonebot.log import logger

LINES = 2000
_lines: deque[str] = deque(maxlen=LINES)
_sink_id: int | None = None


def _sink(message: Any) -> None:
    _lines.append(str(message).rstrip("\n"))


def install(level: int = 20) -> None:
    """Keep the last :data:`LINES` log lines (idempotent)."""
    global _sink_id
    if _sink_id is None:
        _sink_id = logger.add(
            _sink,
            level=level,
            diagnose=False,
            backtrace=False,
            format="{time:YYYY-MM-DD HH:mm:ss.SSS} {level} [{name}] {message}",
        )


def tail(n: int) -> list[str]:
    if n <= 0:
        return []
    return list(_lines)[-n:]
