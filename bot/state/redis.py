"""Redis-backed shared state (``redis://``) for several instances.

Decisions are atomic on the server: ``SET NX PX`` for claims and leases, Lua for
sliding windows and reservations.

Connections: a pooled connection that died (Redis restarted) is retried once on a
fresh connection, and one idle for a while is checked before use, so a restart costs
no refusals. A probe pings Redis every :attr:`RedisState.probe_interval` on its own
connection; it alone decides when Redis is back, and :meth:`RedisState.ping` (what
``/ready`` shows) answers from it at once, never waiting on a hung server.

While Redis is unreachable, counters and rate windows fall back to an in-process
:class:`MemoryState` (``degraded`` is set and shows in ``/ready``), reservations
(token budgets) fail closed with :class:`StateError`, and claims and leases go to
the ``durable`` store every instance shares (the database), never to process
memory: a message is still handled once. For a while after an outage (as long as
the claims taken meanwhile last, and at least :attr:`RedisState.recovery_window`),
claims are taken in both, so those of the outage still count; a marker in Redis
tells the other instances.
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
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bot.exceptions import StateError

from .base import Leases, RateResult, ReserveResult, StateStore, Subscription
from .memory import MemoryState

log = logging.getLogger(__name__)
T = TypeVar("T")
_DOWN = (RedisConnectionError, RedisTimeoutError, OSError)
#: the key that says "claims are also in the durable store"
MARKER = "claims:durable"

# KEYS[1] the claim, KEYS[2] the marker; ARGV: owner, ttl_ms
_LEASE = """
local won = redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2])
return {won and 1 or 0, redis.call('PTTL', KEYS[2])}
"""

# KEYS[1] the claim; ARGV: owner, ttl_ms. Absent (expired, or Redis restarted
# empty) counts as still ours: nobody else holds it.
_RENEW = """
local held = redis.call('GET', KEYS[1])
if held == false or held == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""

# KEYS[1] the claim; ARGV: owner
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0
"""

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
    """Shared state in Redis; see the module docstring for what happens while
    Redis is away."""

    #: seconds between probes (they find Redis down, and back)
    probe_interval = 0.5
    #: a probe unanswered this long finds Redis down (a hung server)
    probe_timeout = 1.0
    #: after an outage, claims go to the durable store too for at least this long
    recovery_window = 60.0

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "freechat:",
        max_connections: int = 512,
        durable: Leases | None = None,
    ) -> None:
        self.url = url
        self.prefix = prefix
        #: where claims go while Redis is away (None: process memory, one instance)
        self.durable = durable
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
            # a pooled socket idle this long is pinged before use
            health_check_interval=5,
            # a command that meets a dead pooled socket (Redis restarted) is sent
            # again on a fresh one; only a second failure means "down"
            retry=Retry(
                ExponentialBackoff(cap=0.2, base=0.02),
                retries=1,
                supported_errors=(RedisConnectionError,),
            ),
        )
        self._redis = aioredis.Redis.from_pool(pool)
        self._probe_client = aioredis.Redis.from_url(
            url,
            socket_timeout=self.probe_timeout,
            socket_connect_timeout=self.probe_timeout,
            # a dead socket (Redis restarted) is not an outage: one fresh try
            retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
            single_connection_client=True,
        )
        self._fallback = MemoryState()
        self._hit = self._redis.register_script(_HIT)
        self._reserve = self._redis.register_script(_RESERVE)
        self._incr = self._redis.register_script(_INCR)
        self._lease = self._redis.register_script(_LEASE)
        self._renew = self._redis.register_script(_RENEW)
        self._release = self._redis.register_script(_RELEASE)
        self._subs: set[Subscription] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._prober: asyncio.Task[None] | None = None
        self._closed = False
        self._probed = asyncio.Event()
        #: until then (monotonic), claims go to the durable store as well
        self._durable_until = 0.0
        #: the longest claim the durable store took alone during this outage
        self._outage_ttl = 0.0

    def _k(self, key: str) -> str:
        return self.prefix + key

    # ------------------------------------------------------------ health
    def _watch(self) -> None:
        if self._closed:
            return
        if self._prober is None or self._prober.done():
            self._prober = asyncio.create_task(self._probe_loop())

    def _went_down(self, exc: BaseException) -> None:
        if not self.degraded:
            where = "the database" if self.durable else "this process"
            log.warning(
                "Redis unreachable (%s); claims go to %s, counters to memory, "
                "budgets are refused",
                exc,
                where,
            )
        self.degraded = True

    async def _probe(self) -> bool:
        try:
            # (asyncio.timeout, not wait_for: wait_for of Python 3.11 can swallow
            # the cancellation that stops the probe)
            async with asyncio.timeout(self.probe_timeout + 0.5):
                return bool(await self._probe_client.ping())
        except (TimeoutError, *_DOWN) as exc:
            if not self.degraded:
                self._went_down(exc)
            return False

    async def _probe_loop(self) -> None:
        while not self._closed:
            ok = await self._probe()
            if ok and self.degraded:
                await self._recovered()
            self._probed.set()
            await asyncio.sleep(self.probe_interval)

    async def _recovered(self) -> None:
        window = max(self._outage_ttl, self.recovery_window)
        self._durable_until = max(self._durable_until, time.monotonic() + window)
        if self.durable is not None:
            with contextlib.suppress(*_DOWN):
                await self._redis.set(self._k(MARKER), "1", px=_ms(window))
        self._outage_ttl = 0.0
        self.degraded = False
        log.warning("Redis is back")

    async def _call(
        self,
        op: Callable[[], Awaitable[T]],
        fallback: Callable[[], Awaitable[T]] | None,
    ) -> T:
        self._watch()
        if not self.degraded:
            try:
                return await op()
            except _DOWN as exc:
                self._went_down(exc)
        if fallback is None:
            raise StateError("shared state (Redis) is unavailable")
        return await fallback()

    # ------------------------------------------------------ claims, leases
    async def _take(self, key: str, owner: str, ttl: float) -> bool:
        async def op() -> bool:
            won, marker = await self._lease(
                keys=[self._k(key), self._k(MARKER)], args=[owner, _ms(ttl)]
            )
            if int(marker) > 0:  # another instance came through an outage
                until = time.monotonic() + int(marker) / 1000
                self._durable_until = max(self._durable_until, until)
            return bool(won)

        durable = self.durable
        if durable is None:
            return await self._call(op, lambda: self._fallback.lease(key, owner, ttl))
        self._watch()
        if not self.degraded:
            try:
                won = await op()
            except _DOWN as exc:
                self._went_down(exc)
            else:
                if not won or time.monotonic() >= self._durable_until:
                    return won
                # claims taken in the database during the outage still count
                try:
                    if await durable.lease(key, owner, ttl):
                        return True
                except StateError:
                    return True  # Redis decided
                with contextlib.suppress(*_DOWN):
                    await self._release(keys=[self._k(key)], args=[owner])
                return False
        self._outage_ttl = max(self._outage_ttl, ttl)
        self._durable_until = max(self._durable_until, time.monotonic() + ttl)
        try:
            return await durable.lease(key, owner, ttl)
        except StateError as exc:
            try:  # Redis may be back before the probe saw it
                return await op()
            except _DOWN:
                raise StateError(f"neither Redis nor the database: {exc}") from exc

    def _both(self) -> bool:
        return self.durable is not None and (
            self.degraded or time.monotonic() < self._durable_until
        )

    async def claim(self, key: str, ttl: float) -> bool:
        return await self._take(key, "1", ttl)

    async def lease(self, key: str, owner: str, ttl: float) -> bool:
        return await self._take(key, owner, ttl)

    async def renew(self, key: str, owner: str, ttl: float) -> bool:
        held = False
        if not self.degraded:
            try:
                held = bool(
                    await self._renew(keys=[self._k(key)], args=[owner, _ms(ttl)])
                )
            except _DOWN as exc:
                self._went_down(exc)
        if self.durable is None:
            if self.degraded:
                held = await self._fallback.renew(key, owner, ttl)
            return held
        if self._both():
            if self.degraded:
                self._outage_ttl = max(self._outage_ttl, ttl)
                self._durable_until = max(self._durable_until, time.monotonic() + ttl)
            held = await self.durable.renew(key, owner, ttl) or held
        return held

    async def release(self, key: str, owner: str) -> None:
        if not self.degraded:
            try:
                await self._release(keys=[self._k(key)], args=[owner])
            except _DOWN as exc:
                self._went_down(exc)
        if self.durable is None:
            await self._fallback.release(key, owner)
        elif self._both():
            await self.durable.release(key, owner)

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
        """What the probe found last (the first time, waits for the first probe
        at most :attr:`probe_timeout`)."""
        self._watch()
        if not self._probed.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._probed.wait(), self.probe_timeout)
        return not self.degraded

    async def close(self) -> None:
        self._closed = True
        if self._prober is not None:
            self._prober.cancel()
            await asyncio.wait({self._prober}, timeout=self.probe_timeout + 1)
        for sub in tuple(self._subs):
            await sub.close()
        await self._probe_client.aclose()
        await self._redis.aclose()


def _ms(seconds: float | None) -> int:
    return max(int((seconds or 0) * 1000), 0)
