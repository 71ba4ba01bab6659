"""D1: Redis killed and restarted, or frozen. Dead pooled connections must not make
the bot refuse anything once Redis is back, and ``ping`` (what ``/ready`` shows)
answers at once and finds a hung Redis quickly."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from bot.state.redis import RedisState
from tests.faults.conftest import BotPair, RedisServer, text_of


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


# -- through the whole bot -------------------------------------------------------------


#: how many of the 200 may go unanswered (see the xfail below)
LOSS_SEEN = 0


@pytest.mark.xfail(
    reason="KNOWN DEFECT, open (CHANGELOG: Known issues): in the whole suite 3-20 of "
    "the first 50 messages after a Redis restart get no answer at all (none is "
    "refused); run alone, even under CPU load, all 200 are answered",
    strict=False,
)
async def test_bot_refuses_nothing_after_redis_restarts(
    bot_pair: Any, openai_stub: Any, redis_server: RedisServer
) -> None:
    """200 messages right after Redis restarted: each gets the model's answer,
    none the "usage accounting is unavailable" refusal."""
    pair: BotPair = bot_pair()
    (bot,) = await pair.start(1)
    peer = await pair.connect(bot)

    async def burst(start: int, n: int = 50) -> None:
        # many users in groups of 50 (the per-user and per-group rate limits)
        await asyncio.gather(
            *(
                peer.send_event(
                    peer.group_message(
                        f"q{i}", message_id=i, user_id=i, group_id=30_000 + i // 50
                    )
                )
                for i in range(start, start + n)
            )
        )
        expected = start + n - 6_000_000 - LOSS_SEEN
        try:
            await peer.wait_sends(expected, timeout=60)
        except TimeoutError:
            got = len(peer.sends())
            log = bot.log()[-4000:]
            raise AssertionError(f"{got}/{expected} answered: {log}") from None

    await burst(6_000_000)  # the pool holds connections now
    redis_server.restart()
    for b in range(1, 5):
        await burst(6_000_000 + 50 * b)
    await asyncio.sleep(2.0)  # the last stragglers
    answers = [text_of(c) for c in peer.sends()[50:]]
    assert len(answers) >= 200 - LOSS_SEEN
    refused = [a for a in answers if a != "Hello from the stub."]
    assert not refused, f"{len(refused)} refused: {refused[0]}"


async def test_ready_answers_at_once_while_redis_hangs(
    bot_pair: Any, redis_server: RedisServer
) -> None:
    pair: BotPair = bot_pair()
    (bot,) = await pair.start(1)
    async with httpx.AsyncClient(base_url=bot.base_url) as client:
        first = (await client.get("/ready", timeout=5)).json()
        assert first["checks"]["state"] == "ok"
        redis_server.freeze()
        frozen_at = time.monotonic()
        slowest = 0.0
        while True:
            t0 = time.monotonic()
            resp = await client.get("/ready", timeout=5)
            slowest = max(slowest, time.monotonic() - t0)
            if resp.json()["checks"]["state"] != "ok":
                break
            assert time.monotonic() - frozen_at < 10, "a hung Redis never showed"
            await asyncio.sleep(0.1)
        noticed = time.monotonic() - frozen_at
        for _ in range(5):  # and it keeps answering at once
            t0 = time.monotonic()
            await client.get("/ready", timeout=5)
            slowest = max(slowest, time.monotonic() - t0)
        redis_server.thaw()
    assert slowest < 1.0, f"/ready took {slowest:.2f} s"
    assert noticed < 3.0, f"a hung Redis showed in /ready after {noticed:.1f} s"
