"""A watcher of one change-feed channel: what every plugin that caches needs.

``FeedWatcher(channel, on_change)`` subscribes on :meth:`start` (idempotent), calls
``on_change(message)`` for every message from any instance, keeps watching when a
callback fails, and unsubscribes on :meth:`stop`. With ``coalesce`` a burst of
messages waiting in the queue is handled once, with the newest message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from bot.state.base import StateStore, Subscription

log = logging.getLogger(__name__)

OnChange = Callable[[dict[str, Any]], Awaitable[None] | None]


class FeedWatcher:
    def __init__(
        self, channel: str, on_change: OnChange, *, coalesce: bool = False
    ) -> None:
        self.channel = channel
        self.on_change = on_change
        self.coalesce = coalesce
        self._sub: Subscription | None = None
        self._task: asyncio.Task[None] | None = None
        self._starting = asyncio.Lock()

    @property
    def running(self) -> bool:
        return self._task is not None

    async def start(self, state: StateStore) -> None:
        """Subscribe now (a change published after this call is never missed).
        Concurrent first calls subscribe once (each used to open a subscription,
        and a Redis connection, of its own)."""
        async with self._starting:
            if self._task is None:
                self._sub = await state.subscribe(self.channel)
                self._task = asyncio.create_task(
                    self._watch(self._sub), name=f"{self.channel}-feed"
                )

    async def _watch(self, sub: Subscription) -> None:
        async for message in sub:
            if self.coalesce:
                while not sub.queue.empty():
                    message = sub.queue.get_nowait()
            try:
                result = self.on_change(message)
                if result is not None:
                    await result
            except Exception:  # keep watching: the next change may succeed
                log.exception("handling a change on %s failed", self.channel)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._sub is not None:
            await self._sub.close()
            self._sub = None
