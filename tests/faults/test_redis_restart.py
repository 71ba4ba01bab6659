"""D1: Redis killed and restarted, or frozen. Dead pooled connections must not make
the bot refuse anything once Redis is back, and ``ping`` (what ``/ready`` shows)
answers at once and finds a hung Redis quickly."""

from __future__ import annotations

import asyncio
import time

from bot.state.redis import RedisState
from tests.faults.conftest import RedisServer


async def _fill_pool(state: RedisState, n: int) -> None:
    """Open ``n`` pooled connections (concurrent calls each take one)."""
    results = await asyncio.gather(
        *(state.reserve(f"warm:{i}", 1, 10, ttl=60) for i in range(n))
    )
    assert all(r.ok for r in results)


async def test_no_refusal_after_redis_restart(redis_server: RedisServer) -> None:
    state = RedisState(redis_server.url, prefix="d1:")
    try:
        await _fill_pool(state, 50)
        redis_server.restart()  # every pooled socket is now dead
        refused = 0
        for _burst in range(4):  # 200 messages, in bursts like a busy group
            results = await asyncio.gather(
                *(state.reserve("budget", 1, 10_000, ttl=60) for _ in range(50)),
                return_exceptions=True,
            )
            refused += sum(1 for r in results if isinstance(r, BaseException))
        assert refused == 0
        assert not state.degraded
        assert int(await state.get("budget") or 0) == 200
    finally:
        await state.close()


async def test_claims_and_counters_after_redis_restart(
    redis_server: RedisServer,
) -> None:
    state = RedisState(redis_server.url, prefix="d1b:")
    try:
        await _fill_pool(state, 20)
        redis_server.restart()
        won = await asyncio.gather(*(state.claim(f"m:{i}", 30) for i in range(100)))
        assert all(won)
        assert not state.degraded  # nothing fell back to process memory
        again = await asyncio.gather(*(state.claim(f"m:{i}", 30) for i in range(100)))
        assert not any(again)
    finally:
        await state.close()


async def test_ping_answers_at_once_and_sees_a_frozen_redis(
    redis_server: RedisServer,
) -> None:
    state = RedisState(redis_server.url, prefix="d1c:")
    try:
        assert await state.ping()
        redis_server.freeze()
        frozen_at = time.monotonic()
        answers: list[bool] = []
        while time.monotonic() - frozen_at < 5.0:
            # each answer comes at once, whatever Redis does
            answers.append(await asyncio.wait_for(state.ping(), 1.0))
            if not answers[-1]:
                break
            await asyncio.sleep(0.05)
        seen_after = time.monotonic() - frozen_at
        assert answers[-1] is False
        assert seen_after < 2.5, f"a hung Redis was noticed after {seen_after:.1f} s"
        redis_server.thaw()
        thawed_at = time.monotonic()
        while not await asyncio.wait_for(state.ping(), 1.0):
            assert time.monotonic() - thawed_at < 5.0
            await asyncio.sleep(0.05)
        # and the pool works again at once
        assert (await state.reserve("after", 1, 10)).ok
    finally:
        redis_server.thaw()
        await state.close()


async def test_calls_skip_a_redis_known_to_be_hung(redis_server: RedisServer) -> None:
    """Once the probe found Redis hung, calls answer from the fallback at once
    instead of each waiting for the socket timeout."""
    state = RedisState(redis_server.url, prefix="d1d:")
    try:
        assert await state.ping()
        redis_server.freeze()
        for _ in range(100):
            if not await state.ping():
                break
            await asyncio.sleep(0.05)
        assert state.degraded
        t0 = time.monotonic()
        counts = await asyncio.gather(*(state.incr("c") for _ in range(50)))
        assert time.monotonic() - t0 < 1.0
        assert sorted(counts) == list(range(1, 51))  # the in-process fallback
    finally:
        redis_server.thaw()
        await state.close()
