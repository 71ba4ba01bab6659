"""The last log lines of this instance, for the console's log page, and a live feed
of new ones for the log socket (:mod:`.logstream`).

Lines are redacted here (:func:`bot.redact.redact_line`) whatever the order of the
loguru sinks, so neither the list nor the live feed ever carries a token in a URL.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Iterator
from typing import Any

from nonebot.log import logger

from bot.redact import redact_line

LINES = 2000
# a socket that falls this far behind loses its oldest unsent lines
QUEUE = 1000
_lines: deque[str] = deque(maxlen=LINES)
_sink_id: int | None = None


class Listener:
    """New lines for one socket; a slow reader drops the oldest and counts them."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.pending: deque[str] = deque(maxlen=QUEUE)
        self.dropped = 0
        self.ready = asyncio.Event()

    def _offer(self, line: str) -> None:  # on the listener's loop
        if len(self.pending) == QUEUE:
            self.dropped += 1
        self.pending.append(line)
        self.ready.set()

    def take(self) -> tuple[list[str], int]:
        lines, dropped = list(self.pending), self.dropped
        self.pending.clear()
        self.dropped = 0
        self.ready.clear()
        return lines, dropped


_listeners: set[Listener] = set()


def _sink(message: Any) -> None:
    line = redact_line(str(message).rstrip("\n"))
    _lines.append(line)
    for listener in list(_listeners):
        # loguru may call from any thread (logging from a worker thread)
        with contextlib.suppress(RuntimeError):  # that loop has closed
            listener.loop.call_soon_threadsafe(listener._offer, line)


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


@contextlib.contextmanager
def listen() -> Iterator[Listener]:
    """New lines from now on, while the ``with`` lasts."""
    listener = Listener(asyncio.get_running_loop())
    _listeners.add(listener)
    try:
        yield listener
    finally:
        _listeners.discard(listener)
