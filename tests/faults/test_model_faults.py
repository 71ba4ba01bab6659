"""D4: a hung model never silences the bot. The stub model runs in its own process
and is frozen with SIGSTOP while messages arrive at a steady rate; with the default
settings every message is answered (the model's text or "the model is not
responding") within 10 s, and answers come back within 5 s of the model."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from bot.exceptions import LLMError, LLMNotResponding
from bot.llm import LLMClient
from bot.registry import Endpoint, StaticRegistry
from bot.settings import LLMSettings

from .llm_helpers import StubProcess

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
