"""In-process shared state for a single instance (``memory://``)."""

from __future__ import annotations

import math
import time
from collections import deque
from typing import Any

from .base import RateResult, ReserveResult, StateStore, Subscription


class MemoryState(StateStore):
    """Everything in dicts; expiry checked lazily and swept periodically."""

    def __init__(self) -> None:
        self._values: dict[str, tuple[str, float]] = {}
        self._windows: dict[str, deque[float]] = {}
        self._subscribers: dict[str, set[Subscription]] = {}
        self._ops = 0

    def _expired(self, key: str, now: float) -> bool:
        item = self._values.get(key)
        if item is None:
            return True
        if item[1] <= now:
            del self._values[key]
            return True
        return False

    def _sweep(self, now: float) -> None:
        self._ops += 1
        if self._ops % 4096:
            return
        for key in [k for k, (_, exp) in self._values.items() if exp <= now]:
            del self._values[key]
        for key in [k for k, w in self._windows.items() if not w]:
            del self._windows[key]

    @staticmethod
    def _deadline(now: float, ttl: float | None) -> float:
        return now + ttl if ttl else math.inf

    async def claim(self, key: str, ttl: float) -> bool:
        now = time.monotonic()
        self._sweep(now)
        if not self._expired(key, now):
            return False
        self._values[key] = ("1", self._deadline(now, ttl))
        return True

    async def get(self, key: str) -> str | None:
        if self._expired(key, time.monotonic()):
            return None
        return self._values[key][0]

    async def set(self, key: str, value: str, ttl: float | None = None) -> None:
        now = time.monotonic()
        self._sweep(now)
        self._values[key] = (value, self._deadline(now, ttl))

    async def delete(self, key: str) -> None:
        self._values.pop(key, None)
        self._windows.pop(key, None)

    async def incr(self, key: str, amount: int = 1, ttl: float | None = None) -> int:
        now = time.monotonic()
        if self._expired(key, now):
            self._values[key] = (str(amount), self._deadline(now, ttl))
            return amount
        value, deadline = self._values[key]
        new = int(value) + amount
        self._values[key] = (str(new), deadline)
        return new

    async def hit(self, key: str, limit: int, window: float) -> RateResult:
        now = time.monotonic()
        self._sweep(now)
        stamps = self._windows.setdefault(key, deque())
        while stamps and stamps[0] <= now - window:
            stamps.popleft()
        if len(stamps) >= limit:
            retry = stamps[0] + window - now if stamps else window
            return RateResult(False, 0, max(retry, 0.0))
        stamps.append(now)
        return RateResult(True, limit - len(stamps), 0.0)

    async def reserve(
        self, key: str, amount: int, limit: int, ttl: float | None = None
    ) -> ReserveResult:
        now = time.monotonic()
        used = 0 if self._expired(key, now) else int(self._values[key][0])
        if used + amount > limit:
            return ReserveResult(False, used)
        await self.incr(key, amount, ttl)
        return ReserveResult(True, used + amount)

    async def publish(self, channel: str, message: dict[str, Any]) -> None:
        for sub in tuple(self._subscribers.get(channel, ())):
            sub.put(message)

    async def subscribe(self, channel: str) -> Subscription:
        subs = self._subscribers.setdefault(channel, set())

        async def on_close(sub: Subscription) -> None:
            subs.discard(sub)

        sub = Subscription(on_close)
        subs.add(sub)
        return sub

    async def ping(self) -> bool:
        return True
