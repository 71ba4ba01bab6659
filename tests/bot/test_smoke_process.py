"""A whole FreeChat process: health, readiness, metrics and the OpenAI front door."""

from __future__ import annotations

import httpx
import openai
import pytest

from tests.fakes.openai_stub import OpenAIStub


@pytest.fixture
async def bot(bot_process, openai_stub: OpenAIStub):
    return await bot_process({"plugins": {"chat": {}}})


async def test_health_ready_metrics(bot) -> None:
    async with httpx.AsyncClient(base_url=bot.base_url) as client:
        assert (await client.get("/health")).json()["status"] == "ok"
        ready = (await client.get("/ready")).json()
        assert ready["checks"] == {"database": "ok", "state": "ok", "llm": "ok"}
        metrics = (await client.get("/metrics")).text
        assert "freechat_messages_in_total" in metrics
    # start-up's objects are out of the collector's way once every hook ran
    assert "start-up heap frozen" in bot.log()


async def test_openai_client_streams_through_the_bot(
    bot, openai_stub: OpenAIStub
) -> None:
    bot.cli("user", "add", "alice", input="correct horse battery\n")
    key = bot.cli("token", "create", "--user", "alice")
    assert key.startswith("fc-")
    openai_stub.script("Streaming works through the chain.", delay=0.01)
    client = openai.AsyncOpenAI(base_url=f"{bot.base_url}/v1", api_key=key)
    stream = await client.chat.completions.create(
        model="any",
        messages=[{"role": "user", "content": "hello"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    pieces = []
    usage = None
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            pieces.append(chunk.choices[0].delta.content)
        if chunk.usage:
            usage = chunk.usage
    await client.close()
    assert "".join(pieces) == "Streaming works through the chain."
    assert len(pieces) > 3
    assert usage is not None
    assert usage.completion_tokens > 0
    assert openai_stub.requests[-1]["messages"][-1] == {
        "role": "user",
        "content": "hello",
    }


async def test_wrong_api_key_is_401(bot) -> None:
    client = openai.AsyncOpenAI(base_url=f"{bot.base_url}/v1", api_key="fc-wrong")
    with pytest.raises(openai.AuthenticationError):
        await client.chat.completions.create(
            model="any", messages=[{"role": "user", "content": "hello"}]
        )
    await client.close()
