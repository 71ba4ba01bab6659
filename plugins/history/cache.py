"""Per-instance cache of each session's current conversation id and settings.

Two of the plugin's database reads per message (which conversation, which persona)
change only on ``/reset`` and ``/persona``; those publish on the ``history``
channel, and every instance drops the session's entries at once. Entries also expire
after ``ttl`` seconds, so a missed message heals by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from bot.runtime import get_runtime
from bot.state import StateStore, Subscription

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
        self._sub: Subscription | None = None
        self._task: asyncio.Task[None] | None = None

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
        self._sub = await state.subscribe(CHANNEL)
        self._task = asyncio.create_task(self._watch(self._sub), name="history-feed")

    async def _watch(self, sub: Subscription) -> None:
        async for message in sub:
            key = message.get("session")
            if isinstance(key, str):
                self.forget(key)
            else:
                self._items.clear()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._sub is not None:
            await self._sub.close()
