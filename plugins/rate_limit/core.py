"""Rate-limit and access decisions without NoneBot.

Limits are sliding windows in the shared state (atomic Lua in Redis, a deque in
memory): per user, per group and global. The most specific scope is counted first,
so a user who is refused does not use up the group's or everyone's allowance.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Generic, TypeVar

from bot.state import RateResult, StateStore


@dataclass(frozen=True, slots=True)
class Limit:
    scope: str
    key: str
    limit: int
    window: float


@dataclass(frozen=True, slots=True)
class Refusal:
    scope: str
    retry_after: float

    @property
    def seconds(self) -> int:
        """The wait to tell the user, in whole seconds (at least 1)."""
        return max(math.ceil(self.retry_after), 1)


def limits_for(
    user_key: str,
    group_key: str | None,
    *,
    user: tuple[int, float],
    group: tuple[int, float],
    everyone: tuple[int, float],
) -> list[Limit]:
    """The limits that apply to one message, most specific first."""
    out = []
    if user[0] > 0:
        out.append(Limit("user", f"rl:user:{user_key}", *user))
    if group_key and group[0] > 0:
        out.append(Limit("group", f"rl:group:{group_key}", *group))
    if everyone[0] > 0:
        out.append(Limit("global", "rl:global", *everyone))
    return out


async def check(state: StateStore, limits: list[Limit]) -> Refusal | None:
    """Count one request against every limit; the first refusal stops."""
    for limit in limits:
        result: RateResult = await state.hit(limit.key, limit.limit, limit.window)
        if not result.allowed:
            return Refusal(limit.scope, result.retry_after)
    return None


def format_refusal(template: str, refusal: Refusal) -> str:
    return template.replace("{seconds}", str(refusal.seconds))


V = TypeVar("V")


@dataclass(slots=True)
class _Cached(Generic[V]):
    value: V
    expires: float


class TTLCache(Generic[V]):
    """A tiny per-key cache with expiry (the ban list, switches)."""

    def __init__(self, ttl: float, max_size: int = 50_000) -> None:
        self.ttl = ttl
        self.max_size = max_size
        self._items: dict[str, _Cached[V]] = {}

    def get(self, key: str) -> V | None:
        item = self._items.get(key)
        if item is None or item.expires <= time.monotonic():
            return None
        return item.value

    def put(self, key: str, value: V) -> None:
        if len(self._items) >= self.max_size:
            self._items.clear()
        self._items[key] = _Cached(value, time.monotonic() + self.ttl)

    def clear(self) -> None:
        self._items.clear()


def ban_active(until: datetime | None, now: datetime | None = None) -> bool:
    """A ban without an end, or one that ends in the future."""
    if until is None:
        return True
    now = now or datetime.now(UTC)
    if until.tzinfo is None:
        until = until.replace(tzinfo=UTC)
    return until > now
