"""In-process shared state for a single instance (``memory://``)."""

from __future__ import annotations

import bisect
import math
import time
from array import array
from typing import Any

from .base import RateResult, ReserveResult, StateStore, Subscription

#: expiry is swept in buckets of this many seconds
SWEEP_GRANULE = 1.0


class MemoryState(StateStore):
    """Everything in dicts; expiry checked on read and swept as time passes.

    The process may hold a great many keys (a dedup claim per message lives an
    hour), so the layout keeps them out of the garbage collector's way: values and
    deadlines are strings and floats in plain dicts, which CPython does not track,
    and a window is an array of floats, which a collection walks as one object.
    With tuples and deques, every full collection walked every key and request
    time and paused the event loop for tens of milliseconds.

    Keys that expire are also filed, once, by the second they expire in, so the
    sweep visits only what is due instead of scanning everything; a key whose
    deadline moved later meanwhile is filed again when its old second comes.
    """

    def __init__(self) -> None:
        self._values: dict[str, str] = {}
        #: deadlines of the values that expire (absent: kept until deleted)
        self._expires: dict[str, float] = {}
        #: sliding windows: the request times of each key, oldest first
        self._windows: dict[str, array[float]] = {}
        #: when each window holds nothing current any more
        self._window_ends: dict[str, float] = {}
        #: second -> keys that may expire in it (entries may be stale)
        self._due: dict[int, dict[str, None]] = {}
        self._subscribers: dict[str, set[Subscription]] = {}
        self._swept = int(time.monotonic() // SWEEP_GRANULE)

    # ------------------------------------------------------------ expiry
    def _file(self, key: str, deadline: float) -> None:
        slot = int(deadline // SWEEP_GRANULE)
        bucket = self._due.get(slot)
        if bucket is None:
            bucket = self._due[slot] = {}
        bucket[key] = None

    def _sweep(self, now: float) -> None:
        current = int(now // SWEEP_GRANULE)
        if current <= self._swept:
            return
        due = self._due
        if len(due) < current - self._swept:  # after a long idle: only what exists
            slots = sorted(slot for slot in due if slot < current)
        else:
            slots = [s for s in range(self._swept, current) if s in due]
        self._swept = current
        for slot in slots:
            for key in due.pop(slot):
                self._settle(key, self._expires, self._values, now)
                self._settle(key, self._window_ends, self._windows, now)

    def _settle(
        self, key: str, deadlines: dict[str, float], table: dict[str, Any], now: float
    ) -> None:
        """Drop ``key`` from ``table`` if its deadline passed; a deadline that moved
        later since the key was filed is filed again (a key is filed once)."""
        deadline = deadlines.get(key)
        if deadline is None:
            return
        if deadline <= now:
            del table[key], deadlines[key]
        else:
            self._file(key, deadline)

    def _set_deadline(
        self, key: str, deadlines: dict[str, float], deadline: float
    ) -> None:
        earlier = deadlines.get(key)
        deadlines[key] = deadline
        if earlier is None or deadline < earlier:  # else filed already
            self._file(key, deadline)

    def _expired(self, key: str, now: float) -> bool:
        if key not in self._values:
            return True
        if self._expires.get(key, math.inf) <= now:
            del self._values[key], self._expires[key]
            return True
        return False

    def _put(self, key: str, value: str, now: float, ttl: float | None) -> None:
        self._values[key] = value
        if ttl:
            self._set_deadline(key, self._expires, now + ttl)
        else:
            self._expires.pop(key, None)

    # -------------------------------------------------------- operations
    async def claim(self, key: str, ttl: float) -> bool:
        now = time.monotonic()
        self._sweep(now)
        if not self._expired(key, now):
            return False
        self._put(key, "1", now, ttl)
        return True

    async def lease(self, key: str, owner: str, ttl: float) -> bool:
        now = time.monotonic()
        self._sweep(now)
        if not self._expired(key, now):
            return False
        self._put(key, owner, now, ttl)
        return True

    async def renew(self, key: str, owner: str, ttl: float) -> bool:
        now = time.monotonic()
        if self._expired(key, now) or self._values[key] != owner:
            return False
        self._put(key, owner, now, ttl)
        return True

    async def release(self, key: str, owner: str) -> None:
        if await self.get(key) == owner:
            await self.delete(key)

    async def get(self, key: str) -> str | None:
        if self._expired(key, time.monotonic()):
            return None
        return self._values[key]

    async def set(self, key: str, value: str, ttl: float | None = None) -> None:
        now = time.monotonic()
        self._sweep(now)
        self._put(key, value, now, ttl)

    async def delete(self, key: str) -> None:
        self._values.pop(key, None)
        self._expires.pop(key, None)
        self._windows.pop(key, None)
        self._window_ends.pop(key, None)

    async def incr(self, key: str, amount: int = 1, ttl: float | None = None) -> int:
        now = time.monotonic()
        self._sweep(now)
        if self._expired(key, now):
            self._put(key, str(amount), now, ttl)
            return amount
        new = int(self._values[key]) + amount
        self._values[key] = str(new)  # the deadline stays
        return new

    async def hit(self, key: str, limit: int, window: float) -> RateResult:
        now = time.monotonic()
        self._sweep(now)
        stamps = self._windows.get(key)
        if stamps is not None and (old := bisect.bisect_right(stamps, now - window)):
            del stamps[:old]
        if limit <= 0 or (stamps is not None and len(stamps) >= limit):
            retry = stamps[0] + window - now if stamps else window
            return RateResult(False, 0, max(retry, 0.0))
        if stamps is None:
            stamps = self._windows[key] = array("d")
        stamps.append(now)
        self._set_deadline(key, self._window_ends, now + window)
        return RateResult(True, limit - len(stamps), 0.0)

    async def reserve(
        self, key: str, amount: int, limit: int, ttl: float | None = None
    ) -> ReserveResult:
        now = time.monotonic()
        used = 0 if self._expired(key, now) else int(self._values[key])
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
