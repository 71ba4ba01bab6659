"""Redis-backed shared state (``redis://``) for several instances.

Decisions are atomic on the server: ``SET NX PX`` for claims, Lua for sliding windows
and reservations. When Redis is unreachable, claims, counters and rate windows fall
back to an in-process :class:`MemoryState` (``degraded`` is set and shows in
``/ready``); reservations (token budgets) fail closed with :class:`StateError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from redis import asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bot.exceptions import StateError

from .base import RateResult, ReserveResult, StateStore, Subscription
from .memory import MemoryState

log = logging.getLogger(__name__)
T = TypeVar("T")
_DOWN = (RedisConnectionError, RedisTimeoutError, OSError)

# KEYS[1] window zset; ARGV: now_ms, window_ms, limit, member
_HIT = """
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
if count >= limit then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  local retry = window
  if oldest[2] then retry = tonumber(oldest[2]) + window - now end
  return {0, 0, retry}
end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('PEXPIRE', KEYS[1], window)
return {1, limit - count - 1, 0}
"""

# KEYS[1] counter; ARGV: amount, limit, ttl_ms (0 = none)
_RESERVE = """
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local amount = tonumber(ARGV[1])
if used + amount > tonumber(ARGV[2]) then return {0, used} end
local new = redis.call('INCRBY', KEYS[1], amount)
if new == amount and tonumber(ARGV[3]) > 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
return {1, new}
"""

# KEYS[1] counter; ARGV: amount, ttl_ms (0 = none)
_INCR = """
local new = redis.call('INCRBY', KEYS[1], ARGV[1])
if new == tonumber(ARGV[1]) and tonumber(ARGV[2]) > 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return new
"""


class RedisState(StateStore):
    """Shared state in Redis with a visible in-process fallback."""

    #: after a failure, skip Redis for this long before trying again
    retry_interval = 1.0

    def __init__(
        self, url: str, *, prefix: str = "freechat:", max_connections: int = 512
    ) -> None:
        self.url = url
        self.prefix = prefix
        # a blocking pool: past max_connections callers wait for a free connection
        # (redis-py's default pool raises "Too many connections" at 100, which
        # would read as Redis being down and fail budgets closed under load)
        pool = aioredis.BlockingConnectionPool.from_url(
            url,
            max_connections=max_connections,
            timeout=5.0,
            decode_responses=True,
            socket_timeout=2.0,
            socket_connect_timeout=2.0,
            health_check_interval=10,
        )
        self._redis = aioredis.Redis.from_pool(pool)
        self._fallback = MemoryState()
        self._down_until = 0.0
        self._hit = self._redis.register_script(_HIT)
        self._reserve = self._redis.register_script(_RESERVE)
        self._incr = self._redis.register_script(_INCR)
        self._subs: set[Subscription] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    def _k(self, key: str) -> str:
        return self.prefix + key

    async def _call(
        self,
        op: Callable[[], Awaitable[T]],
        fallback: Callable[[], Awaitable[T]] | None,
    ) -> T:
        if time.monotonic() >= self._down_until:
            try:
                result = await op()
            except _DOWN as exc:
                if not self.degraded:
                    log.warning(
                        "Redis unreachable (%s); using in-process fallback", exc
                    )
                self.degraded = True
                self._down_until = time.monotonic() + self.retry_interval
            else:
                if self.degraded:
                    log.warning("Redis is back")
                self.degraded = False
                return result
        if fallback is None:
            raise StateError("shared state (Redis) is unavailable")
        return await fallback()

    async def claim(self, key: str, ttl: float) -> bool:
        async def op() -> bool:
            return bool(await self._redis.set(self._k(key), "1", nx=True, px=_ms(ttl)))

        return await self._call(op, lambda: self._fallback.claim(key, ttl))

    async def get(self, key: str) -> str | None:
        async def op() -> str | None:
            value = await self._redis.get(self._k(key))
            return None if value is None else str(value)

        return await self._call(op, lambda: self._fallback.get(key))

    async def set(self, key: str, value: str, ttl: float | None = None) -> None:
        async def op() -> None:
            await self._redis.set(self._k(key), value, px=_ms(ttl) if ttl else None)

        await self._call(op, lambda: self._fallback.set(key, value, ttl))

    async def delete(self, key: str) -> None:
        async def op() -> None:
            await self._redis.delete(self._k(key))

        await self._call(op, lambda: self._fallback.delete(key))

    async def incr(self, key: str, amount: int = 1, ttl: float | None = None) -> int:
        async def op() -> int:
            return int(await self._incr(keys=[self._k(key)], args=[amount, _ms(ttl)]))

        return await self._call(op, lambda: self._fallback.incr(key, amount, ttl))

    async def hit(self, key: str, limit: int, window: float) -> RateResult:
        async def op() -> RateResult:
            now = int(time.time() * 1000)
            allowed, remaining, retry = await self._hit(
                keys=[self._k(key)],
                args=[now, _ms(window), limit, f"{now}-{uuid.uuid4().hex[:8]}"],
            )
            return RateResult(bool(allowed), int(remaining), max(int(retry), 0) / 1000)

        return await self._call(op, lambda: self._fallback.hit(key, limit, window))

    async def reserve(
        self, key: str, amount: int, limit: int, ttl: float | None = None
    ) -> ReserveResult:
        async def op() -> ReserveResult:
            ok, used = await self._reserve(
                keys=[self._k(key)], args=[amount, limit, _ms(ttl)]
            )
            return ReserveResult(bool(ok), int(used))

        return await self._call(op, None)  # budgets fail closed

    async def publish(self, channel: str, message: dict[str, Any]) -> None:
        payload = json.dumps(message, ensure_ascii=False)

        async def op() -> None:
            await self._redis.publish(self._k(channel), payload)

        async def local() -> None:
            await self._fallback.publish(channel, message)

        await self._call(op, local)

    async def subscribe(self, channel: str) -> Subscription:
        ready = asyncio.Event()

        async def on_close(sub: Subscription) -> None:
            self._subs.discard(sub)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

        sub = Subscription(on_close)
        task = asyncio.create_task(self._pump(self._k(channel), sub, ready))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        self._subs.add(sub)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(ready.wait(), 3.0)
        return sub

    async def _pump(
        self, channel: str, sub: Subscription, ready: asyncio.Event
    ) -> None:
        """Feed ``sub`` from Redis, resubscribing after connection loss."""
        backoff = 0.2
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(channel)
                ready.set()
                backoff = 0.2
                while True:
                    msg = await pubsub.get_message(timeout=5.0)
                    if msg is None or msg.get("type") != "message":
                        continue
                    try:
                        data = json.loads(msg["data"])
                    except (TypeError, ValueError):
                        log.warning("ignored a malformed message on %s", channel)
                        continue
                    if isinstance(data, dict):
                        sub.put(data)
            except _DOWN as exc:
                log.warning("subscription to %s lost (%s); retrying", channel, exc)
                ready.set()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
            finally:
                with contextlib.suppress(*_DOWN):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def ping(self) -> bool:
        try:
            ok = bool(await self._redis.ping())
        except _DOWN:
            self.degraded = True
            return False
        self.degraded = False
        self._down_until = 0.0
        return ok

    async def close(self) -> None:
        for sub in tuple(self._subs):
            await sub.close()
        await self._redis.aclose()


def _ms(seconds: float | None) -> int:
    return max(int((seconds or 0) * 1000), 0)
