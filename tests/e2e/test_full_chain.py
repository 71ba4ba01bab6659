"""A FreeChat process with every built-in plugin on, against the OpenAI stub: what a
user sees through the web chat and the OpenAI front door."""

from __future__ import annotations

import asyncio

import httpx
import openai
import pytest

from tests.adapters.web.test_web_chat import WebChat
from tests.fakes.openai_stub import OpenAIStub

PASSWORD = "correct horse battery"
DEFAULT_PLUGINS = {
    "chat": {},
    "admin": {},
    "rate_limit": {},
    "sensitive_words": {},
    "keywords": {"rules": [{"match": "exact", "pattern": "ping", "reply": "pong!"}]},
    "history": {},
    "token_budget": {},
}


@pytest.fixture
async def bot(bot_process, tmp_path):
    words = tmp_path / "words"
    words.mkdir()
    (words / "secret.txt").write_text("机密代号\nbanana split\n")
    plugins = dict(DEFAULT_PLUGINS)
    plugins["sensitive_words"] = {
        "dirs": [str(words)],
        "categories": {"secret": "mask"},
    }
    bp = await bot_process({"plugins": plugins})
    bp.cli("user", "add", "alice", input=PASSWORD + "\n")
    return bp


@pytest.fixture
async def cookies(bot) -> httpx.Cookies:
    async with httpx.AsyncClient(base_url=bot.base_url) as client:
        r = await client.post(
            "/api/auth/login", json={"username": "alice", "password": PASSWORD}
        )
        assert r.status_code == 200
        return client.cookies


async def test_filtered_words_never_reach_the_browser(
    bot, cookies, openai_stub: OpenAIStub
) -> None:
    answer = "The 机密代号 is out, and so is the banana split recipe."
    openai_stub.script(answer, delay=0.005, chunk_chars=1)
    async with WebChat(bot.base_url, cookies) as chat:
        await chat.send("tell me")
        frames = await chat.until_done()
    deltas = [f["text"] for f in frames if f["type"] == "delta"]
    shown = "".join(deltas)
    assert len(deltas) > 3
    for frame_text in deltas:
        assert "机" not in frame_text or "机密代号" not in shown
    assert "机密代号" not in shown
    assert "banana split" not in shown
    assert shown == answer.replace("机密代号", "****").replace(
        "banana split", "************"
    )
    # the stored conversation holds what the user saw
    conv = frames[0]["conversation_id"]
    async with httpx.AsyncClient(base_url=bot.base_url, cookies=cookies) as client:
        stored = (await client.get(f"/api/conversations/{conv}")).json()["messages"]
    assert [m["role"] for m in stored] == ["user", "assistant"]
    assert stored[1]["content"] == shown


async def test_stop_through_the_whole_chain_closes_upstream(
    bot, cookies, openai_stub: OpenAIStub
) -> None:
    openai_stub.script("z" * 600, delay=0.02, chunk_chars=1)
    async with WebChat(bot.base_url, cookies) as chat:
        await chat.send("long answer please")
        while (await chat.recv())["type"] != "delta":
            pass
        await chat.raw({"type": "stop"})
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        closed = await asyncio.to_thread(
            openai_stub.wait_for, lambda: openai_stub.disconnects == 1, 5
        )
        assert closed
        assert loop.time() - t0 < 1.0
        frames = await chat.until_done()
        assert frames[-1]["finish_reason"] == "cancelled"


async def test_keyword_answers_without_the_model(
    bot, cookies, openai_stub: OpenAIStub
) -> None:
    async with WebChat(bot.base_url, cookies) as chat:
        await chat.send("ping")
        frames = await chat.until_done()
    assert "".join(f["text"] for f in frames if f["type"] == "delta") == "pong!"
    assert openai_stub.requests == []


async def test_openai_client_through_every_plugin(bot, openai_stub: OpenAIStub) -> None:
    key = bot.cli("token", "create", "--user", "alice")
    openai_stub.script("first answer")
    openai_stub.script("second answer")
    client = openai.AsyncOpenAI(base_url=f"{bot.base_url}/v1", api_key=key)
    first = await client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "one"}], user="s1"
    )
    assert first.choices[0].message.content == "first answer"
    second = await client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "two"}], user="s1"
    )
    assert second.choices[0].message.content == "second answer"
    await client.close()
    # the bot kept the session's history: the second prompt carries the first turn
    contents = [m["content"] for m in openai_stub.requests[1]["messages"]]
    assert contents[-3:] == ["one", "first answer", "two"]
