"""Per-instance cache of each session's current conversation id and settings.

Two of the plugin's database reads per message (which conversation, which persona)
change only on ``/reset`` and ``/persona``; those publish on the ``history``
channel, and every instance drops the session's entries at once. Entries also expire
after ``ttl`` seconds, so a missed message heals by itself.
"""

from __future__ import annotations

import time
from typing import Any

from bot.runtime import get_runtime
from bot.state import FeedWatcher, StateStore

CHANNEL = "history"
_MISSING = object()


async def publish_session_change(
    session_key: str, state: StateStore | None = None
) -> None:
    await (state or get_runtime().state).publish(CHANNEL, {"session": session_key})


class SessionCache:
    def __init__(self, ttl: float = 60.0, max_size: int = 100_000) -> None:
        self.ttl = ttl
        self.max_size = max_size
        self._items: dict[tuple[str, str], tuple[Any, float]] = {}
        self._feed = FeedWatcher(CHANNEL, self._changed)

    def get(self, kind: str, session_key: str) -> Any:
        """The cached value, or ``SessionCache.MISSING``."""
        item = self._items.get((kind, session_key))
        if item is None or item[1] <= time.monotonic():
            return _MISSING
        return item[0]

    def put(self, kind: str, session_key: str, value: Any) -> None:
        if len(self._items) >= self.max_size:
            self._items.clear()
        self._items[(kind, session_key)] = (value, time.monotonic() + self.ttl)

    def forget(self, session_key: str) -> None:
        for kind in ("conversation", "setting"):
            self._items.pop((kind, session_key), None)

    MISSING = _MISSING

    async def start(self, state: StateStore) -> None:
        await self._feed.start(state)

    def _changed(self, message: dict[str, Any]) -> None:
        key = message.get("session")
        if isinstance(key, str):
            self.forget(key)
        else:
            self._items.clear()

    async def stop(self) -> None:
        await self._feed.stop()
