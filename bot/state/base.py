"""The shared-state interface: claim-once keys, counters, rate windows, budgets,
and a publish/subscribe change feed.

Two implementations share one test suite: :mod:`bot.state.memory` (one process) and
:mod:`bot.state.redis` (several instances). Every operation that decides something
(claim, hit, reserve) is atomic in both.
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class RateResult:
    """Outcome of one rate-limit hit."""

    allowed: bool
    remaining: int
    #: seconds until the next hit would be allowed (0 when allowed)
    retry_after: float


@dataclass(frozen=True, slots=True)
class ReserveResult:
    """Outcome of reserving ``amount`` against a limit."""

    ok: bool
    #: the amount in use after the call (unchanged when refused)
    used: int


class Subscription:
    """An open subscription: ``async for message in sub``; ``await sub.close()``."""

    def __init__(self, on_close: Callable[[Subscription], Awaitable[None]]) -> None:
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=10_000)
        self._on_close = on_close
        self.closed = False

    def put(self, message: dict[str, Any]) -> None:
        if self.queue.full():  # a stalled consumer must not grow memory without bound
            self.queue.get_nowait()
        self.queue.put_nowait(message)

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self

    async def __anext__(self) -> dict[str, Any]:
        if self.closed:
            raise StopAsyncIteration
        return await self.queue.get()

    async def close(self) -> None:
        if not self.closed:
            self.closed = True
            await self._on_close(self)


class Leases(Protocol):
    """Where claims go when the shared state cannot take them: a store every
    instance shares (the database, :class:`bot.store.claims.DatabaseClaims`), so
    that a message is still handled once. Raises :class:`~bot.exceptions.StateError`
    when it cannot answer either."""

    async def lease(self, key: str, owner: str, ttl: float) -> bool: ...

    async def renew(self, key: str, owner: str, ttl: float) -> bool: ...

    async def release(self, key: str, owner: str) -> None: ...


class StateStore(abc.ABC):
    """Async shared state. Keys are plain strings; implementations add a prefix."""

    #: True while the backing service is down and a fallback answers
    degraded: bool = False

    @abc.abstractmethod
    async def claim(self, key: str, ttl: float) -> bool:
        """Claim ``key`` for ``ttl`` seconds; True for exactly one caller."""

    @abc.abstractmethod
    async def lease(self, key: str, owner: str, ttl: float) -> bool:
        """Claim ``key`` for ``owner`` for ``ttl`` seconds; True for exactly one
        caller. Unlike :meth:`claim`, the holder can :meth:`renew` and
        :meth:`release` it."""

    @abc.abstractmethod
    async def renew(self, key: str, owner: str, ttl: float) -> bool:
        """Make ``owner``'s lease on ``key`` last ``ttl`` seconds from now; False
        when it is no longer ``owner``'s (it expired and another caller took it)."""

    @abc.abstractmethod
    async def release(self, key: str, owner: str) -> None:
        """Give up ``owner``'s lease on ``key`` (nothing if it is not theirs)."""

    @abc.abstractmethod
    async def get(self, key: str) -> str | None: ...

    @abc.abstractmethod
    async def set(self, key: str, value: str, ttl: float | None = None) -> None: ...

    @abc.abstractmethod
    async def delete(self, key: str) -> None: ...

    @abc.abstractmethod
    async def incr(self, key: str, amount: int = 1, ttl: float | None = None) -> int:
        """Add ``amount`` and return the new value; ``ttl`` is set on creation."""

    @abc.abstractmethod
    async def hit(self, key: str, limit: int, window: float) -> RateResult:
        """Count one request in a sliding ``window`` allowing ``limit`` requests."""

    @abc.abstractmethod
    async def reserve(
        self, key: str, amount: int, limit: int, ttl: float | None = None
    ) -> ReserveResult:
        """Atomically add ``amount`` to ``key`` only if the result stays <= ``limit``."""

    @abc.abstractmethod
    async def publish(self, channel: str, message: dict[str, Any]) -> None: ...

    @abc.abstractmethod
    async def subscribe(self, channel: str) -> Subscription:
        """Subscribe now; the result yields messages published on ``channel`` from
        this moment on, by any instance."""

    @abc.abstractmethod
    async def ping(self) -> bool:
        """True when the backing service answers; never waits on a hung service
        (what the last probe found)."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""
