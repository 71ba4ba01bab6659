"""D4: a hung model never silences the bot. The stub model runs in its own process
and is frozen with SIGSTOP while messages arrive at a steady rate; with the default
settings every message is answered (the model's text or "the model is not
responding") within 10 s, and answers come back within 5 s of the model."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest

from bot.exceptions import LLMError, LLMNotResponding
from bot.llm import LLMClient
from bot.registry import Endpoint, StaticRegistry
from bot.settings import LLMSettings
from tests.conftest import BotProcess

from .llm_helpers import StubProcess

log = logging.getLogger(__name__)

RATE = 10  # messages a second
FREEZE = 12.0  # seconds the model is frozen
AFTER = 7.0  # seconds of messages after it thaws


@dataclass
class Outcome:
    sent: float
    took: float
    answered: bool  # the model's own text (False: an error text for the user)
    refused: bool  # refused at once, without a request


@pytest.fixture
def stub_process() -> Iterator[StubProcess]:
    stub = StubProcess()
    yield stub
    stub.stop()


async def test_a_frozen_model_gets_every_message_answered_and_recovers(
    stub_process: StubProcess,
) -> None:
    settings = LLMSettings(model="stub-model")  # the defaults are what is tested
    llm = LLMClient(StaticRegistry([Endpoint(stub_process.base_url)]), settings)
    loop = asyncio.get_running_loop()
    outcomes: list[Outcome] = []

    async def message() -> None:
        sent = loop.time()
        answered = refused = False
        try:
            text = "".join(
                [c.text async for c in llm.stream([{"role": "user", "content": "hi"}])]
            )
            answered = text == "Hello from the stub."
        except LLMNotResponding:
            refused = True
        except LLMError:
            pass
        outcomes.append(Outcome(sent, loop.time() - sent, answered, refused))

    tasks: list[asyncio.Task[None]] = []

    async def send_for(seconds: float) -> None:
        end = loop.time() + seconds
        while loop.time() < end:
            tasks.append(asyncio.create_task(message()))
            await asyncio.sleep(1 / RATE)

    try:
        await send_for(1.0)
        frozen_at = loop.time()
        stub_process.freeze()
        await send_for(FREEZE)
        stub_process.thaw()
        thawed_at = loop.time()
        await send_for(AFTER)
        async with asyncio.timeout(30):
            await asyncio.gather(*tasks)
    finally:
        stub_process.thaw()
        await llm.close()

    assert len(outcomes) == len(tasks) >= RATE * (1 + FREEZE + AFTER) * 0.7
    answered_late = [o for o in outcomes if o.answered and o.sent > frozen_at]
    log.info(
        "client: %d messages, slowest %.2f s, %d refused at once, first answer "
        "%.2f s after the thaw",
        len(outcomes),
        max(o.took for o in outcomes),
        sum(o.refused for o in outcomes),
        min(o.sent + o.took for o in answered_late) - thawed_at,
    )
    # every message had its answer within 10 s
    slowest = max(o.took for o in outcomes)
    assert slowest < 10.0, f"a message waited {slowest:.1f} s"
    before = [o for o in outcomes if o.sent < frozen_at]
    assert all(o.answered for o in before)
    # the circuit opened: late in the freeze, messages are refused at once, not
    # sent into the hung model (one probe every circuit_reset seconds goes out)
    late = [o for o in outcomes if frozen_at + 9.0 <= o.sent < thawed_at]
    assert late
    assert sum(o.refused for o in late) >= len(late) - 3
    # back within 5 s of the model: everything sent from then on is answered
    recovered = [o for o in outcomes if o.sent >= thawed_at + 5.0]
    assert recovered
    assert all(o.answered for o in recovered)
    first = min(o.sent + o.took for o in outcomes if o.answered and o.sent > frozen_at)
    assert first - thawed_at < 5.0


async def test_a_frozen_model_behind_the_whole_bot(
    stub_process: StubProcess,
    bot_process: Callable[..., Awaitable[BotProcess]],
) -> None:
    """The same through a ``freechat run`` process and its OpenAI-compatible API:
    every request has its answer within 10 s while the model is frozen, the text
    says the model is not responding, and ``/ready`` answers within 1 s."""
    bot = await bot_process(
        {
            "llm": {"base_url": stub_process.base_url, "model": "stub-model"},
            "plugins": {"chat": {}, "rate_limit": {"user": 0, "group": 0}},
        }
    )
    bot.cli("user", "add", "alice", input="correct horse battery\n")
    key = bot.cli("token", "create", "--user", "alice")
    loop = asyncio.get_running_loop()
    took: list[float] = []
    texts: list[str] = []
    ready: list[float] = []
    async with httpx.AsyncClient(
        base_url=bot.base_url,
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    ) as http:

        async def message(n: int) -> None:
            t0 = loop.time()
            resp = await http.post(
                "/v1/chat/completions",
                json={
                    "model": "any",
                    "messages": [{"role": "user", "content": f"{n}"}],
                },
            )
            took.append(loop.time() - t0)
            texts.append(resp.json()["choices"][0]["message"]["content"])

        tasks = []
        stub_process.freeze()
        try:
            for n in range(int(10 * RATE / 2)):  # 10 s at 5 messages a second
                tasks.append(asyncio.create_task(message(n)))
                await asyncio.sleep(2 / RATE)
                if n % 10 == 9:
                    t0 = loop.time()
                    await http.get("/ready")
                    ready.append(loop.time() - t0)
            async with asyncio.timeout(30):
                await asyncio.gather(*tasks)
        finally:
            stub_process.thaw()
        thawed = loop.time()
        back = ""
        while back != "Hello from the stub." and loop.time() - thawed < 8:
            resp = await http.post(
                "/v1/chat/completions",
                json={"model": "any", "messages": [{"role": "user", "content": "b"}]},
            )
            back = resp.json()["choices"][0]["message"]["content"]
            await asyncio.sleep(0.2)
        recovered = loop.time() - thawed
    log.info(
        "bot: %d requests, slowest %.2f s, /ready slowest %.2f s, back %.2f s "
        "after the thaw",
        len(took),
        max(took),
        max(ready),
        recovered,
    )
    assert max(took) < 10.0, f"a message waited {max(took):.1f} s"
    assert all("模型没有响应" in t for t in texts), set(texts)
    assert max(ready) < 1.0, ready
    assert back == "Hello from the stub."
    assert recovered < 5.0
