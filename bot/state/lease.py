"""A claim that means "answered, or being answered by a live instance".

:meth:`Lease.take` claims a key for a short ``ttl``; :meth:`Lease.held` renews it
while the work inside runs, makes it final (``final_ttl``, the dedup window) when
the work ends normally, and releases it when the work fails or is cancelled, so the
platform's next delivery of the event is handled again (here or by another
instance). An instance that dies holding a lease loses it after ``ttl``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

from bot.exceptions import FreeChatError

from .base import StateStore

log = logging.getLogger(__name__)
#: renewal tasks until they have ended (a cancelled task still needs a reference)
_keepers: set[asyncio.Task[None]] = set()


class Lease:
    """One held claim on ``key``."""

    def __init__(self, state: StateStore, key: str, owner: str, ttl: float) -> None:
        self.state = state
        self.key = key
        self.owner = owner
        self.ttl = ttl
        self._keeper: asyncio.Task[None] | None = None

    @classmethod
    async def take(cls, state: StateStore, key: str, ttl: float) -> Lease | None:
        """The lease on ``key``, or None when another caller holds it. Raises
        :class:`~bot.exceptions.StateError` when no store can decide."""
        owner = uuid.uuid4().hex
        if not await state.lease(key, owner, ttl):
            return None
        return cls(state, key, owner, ttl)

    async def _keep(self) -> None:
        while True:
            try:
                if not await self.state.renew(self.key, self.owner, self.ttl):
                    log.warning("the claim on %s lapsed while in use", self.key)
            except FreeChatError as exc:  # the next renewal may get through
                log.warning("could not renew the claim on %s (%s)", self.key, exc)
            await asyncio.sleep(self.ttl / 3)

    def _start_keeping(self) -> None:
        self._keeper = asyncio.create_task(self._keep())
        _keepers.add(self._keeper)
        self._keeper.add_done_callback(_keepers.discard)

    @contextlib.asynccontextmanager
    async def held(
        self, final_ttl: float, *, tasks: set[asyncio.Task[Any]] | None = None
    ) -> AsyncIterator[None]:
        """Renew while the block runs (the current task is in ``tasks``), then
        make the claim final, or release it if the block raised."""
        # most answers end before the first renewal is due: a timer, not a task
        timer = asyncio.get_running_loop().call_later(self.ttl / 3, self._start_keeping)
        task = asyncio.current_task()
        if tasks is not None and task is not None:
            tasks.add(task)
        done = False
        try:
            yield
            done = True
        finally:
            timer.cancel()
            if self._keeper is not None:
                self._keeper.cancel()
            if tasks is not None and task is not None:
                tasks.discard(task)
            try:
                if done:
                    await self.state.renew(self.key, self.owner, final_ttl)
                else:
                    await self.state.release(self.key, self.owner)
            except FreeChatError as exc:  # the lease lapses on its own
                log.warning("could not settle the claim on %s (%s)", self.key, exc)
