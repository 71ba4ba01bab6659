"""D2 and D3 through whole bots: a claim means "answered, or being answered by a
live instance". Bots killed (SIGKILL) or stopped (SIGTERM) mid-answer lose nothing,
and two instances sharing PostgreSQL answer each message once while their Redis is
down and after it comes back."""

from __future__ import annotations

import asyncio
import collections
import time
from typing import Any

from tests.conftest import BotProcess
from tests.faults.conftest import (
    BotPair,
    NapCat,
    RedisServer,
    eventually,
    kill,
    text_of,
)

SLOW = "slow answer"  # 4 chunks of 3 characters


def replies(pair: BotPair) -> collections.Counter[str]:
    """How many answers each message id got (an answer quotes what it answers)."""
    counted: collections.Counter[str] = collections.Counter()
    for call in pair.sends():
        segment = call["params"]["message"][0]
        if segment["type"] == "reply":
            counted[str(segment["data"]["id"])] += 1
    return counted


async def _exit(bp: BotProcess, timeout: float = 40.0) -> int:
    return await asyncio.to_thread(bp.proc.wait, timeout)


async def _resend_until_answered(
    peer: NapCat, event: dict[str, Any], within: float
) -> float:
    """The platform's retries: send ``event`` every half second until ``peer``
    got an answer; the seconds it took."""
    t0 = time.monotonic()
    while not peer.sends():
        assert time.monotonic() - t0 < within, "the message was never answered"
        await peer.send_event(event)
        await asyncio.sleep(0.5)
    return time.monotonic() - t0


async def test_killed_instance_s_message_is_answered_after_its_lease(
    bot_pair: Any, openai_stub: Any
) -> None:
    pair: BotPair = bot_pair(state={"claim_lease": 2.0})
    first, second = await pair.start(2)
    openai_stub.script(SLOW, delay=5.0)  # the first answer takes 20 s
    a, b = await pair.connect(first), await pair.connect(second)
    event = a.group_message("hello", message_id=4_000_001)
    await a.send_event(event)
    await eventually(lambda: len(openai_stub.requests) == 1, 30)
    # while the first instance answers, the platform's retry is a duplicate
    await b.send_event(event)
    await asyncio.sleep(3.0)  # longer than the lease: the first one renews it
    assert len(openai_stub.requests) == 1
    assert not b.sends()

    kill(first)  # mid-answer, no shutdown at all
    took = await _resend_until_answered(b, event, within=30)
    assert took < 15, f"answered {took:.1f} s after the kill"
    await asyncio.sleep(1.0)
    assert [text_of(c) for c in b.sends()] == ["Hello from the stub."]
    assert replies(pair) == {"4000001": 1}


async def test_sigterm_finishes_the_answer_in_flight(
    bot_pair: Any, openai_stub: Any
) -> None:
    pair: BotPair = bot_pair(server={"drain_timeout": 20.0})
    (bot,) = await pair.start(1)
    openai_stub.script(SLOW, delay=0.7)  # about 3 s
    peer = await pair.connect(bot)
    await peer.send_event(peer.group_message("hello", message_id=4_000_002))
    await eventually(lambda: len(openai_stub.requests) == 1, 30)
    bot.proc.terminate()
    await _exit(bot)  # by itself (uvicorn re-raises the SIGTERM once it stopped)
    assert [text_of(c) for c in peer.sends()] == [SLOW], bot.log()[-3000:]
    assert "Draining: 1 messages being answered" in bot.log()


async def test_sigterm_hands_back_what_it_cannot_finish(
    bot_pair: Any, openai_stub: Any
) -> None:
    """Past ``server.drain_timeout`` the answer is given up and its claim
    released: the platform's next delivery is answered by another instance at
    once, not after the claim's lease (30 s) or dedup window (1 h)."""
    pair: BotPair = bot_pair(server={"drain_timeout": 1.0})
    first, second = await pair.start(2)
    openai_stub.script(SLOW, delay=30.0)
    a, b = await pair.connect(first), await pair.connect(second)
    event = a.group_message("hello", message_id=4_000_003)
    await a.send_event(event)
    await eventually(lambda: len(openai_stub.requests) == 1, 30)
    first.proc.terminate()
    await _exit(first)
    assert "1 messages handed back" in first.log()
    took = await _resend_until_answered(b, event, within=20)
    assert took < 10
    assert replies(pair) == {"4000003": 1}


async def test_two_instances_answer_once_through_a_redis_outage(
    bot_pair: Any, openai_stub: Any, redis_server: RedisServer
) -> None:
    pair: BotPair = bot_pair()
    first, second = await pair.start(2)
    peers = [await pair.connect(first), await pair.connect(second)]

    async def deliver(ids: range) -> None:
        """Each message to both instances, as when both are logged in; from many
        users (the rate limits count in each process while Redis is away)."""
        await asyncio.gather(
            *(
                peer.send_event(
                    peer.group_message(f"q{i}", message_id=i, user_id=i % 1000)
                )
                for i in ids
                for peer in peers
            )
        )

    await deliver(range(5_000_000, 5_000_005))
    await eventually(lambda: len(replies(pair)) == 5, 30)

    redis_server.kill()
    outage = range(5_000_100, 5_000_130)
    await deliver(outage)
    await eventually(lambda: len(replies(pair)) == 35, 60)

    redis_server.start()  # back, empty
    await asyncio.sleep(1.5)  # the bots' probes find it
    await deliver(outage)  # the platform delivers the outage's messages again
    await deliver(range(5_000_200, 5_000_210))
    await eventually(lambda: len(replies(pair)) == 45, 30)
    await asyncio.sleep(1.5)
    counted = replies(pair)
    assert len(counted) == 45
    assert set(counted.values()) == {1}, {k: v for k, v in counted.items() if v > 1}
    assert "claims go to the database" in first.log() + second.log()
