"""The middleware plugins inside whole ``freechat run`` processes, talking to the
OpenAI stub through the OpenAI-compatible front door: two processes sharing one
Redis and one PostgreSQL never overspend a token budget under 200 concurrent
requests, and one process answers keywords, blocks and masks words, rate-limits."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis import asyncio as aioredis

from tests.fakes.openai_stub import OpenAIStub

MAX_TOKENS = 64


def plugin_config(words: Path, **overrides: Any) -> dict[str, Any]:
    plugins: dict[str, Any] = {
        "chat": {},
        "rate_limit": {"user": 1000, "group": 0},
        "sensitive_words": {"dirs": [str(words)], "categories": {"politics": "block"}},
        "keywords": {
            "rules": [{"match": "exact", "pattern": "营业时间", "reply": "9:00-18:00"}]
        },
        "history": {},
        "token_budget": {"tokenizer": "estimate"},
    }
    for name, values in overrides.items():
        plugins[name] = {**plugins.get(name, {}), **values}
    return {"adapters": {"openai": {}}, "plugins": plugins}


@pytest.fixture
def words(tmp_path: Path) -> Path:
    folder = tmp_path / "words"
    folder.mkdir()
    (folder / "insult.txt").write_text("傻冒\n", encoding="utf-8")
    (folder / "politics.txt").write_text("禁词测试\n", encoding="utf-8")
    return folder


async def api_key(bp: Any, name: str) -> str:
    await asyncio.to_thread(
        bp.cli, "user", "add", name, "--password-stdin", input="correct horse battery\n"
    )
    return await asyncio.to_thread(bp.cli, "token", "create", "--user", name)


async def ask(
    client: httpx.AsyncClient, base: str, key: str, text: str, session: str = ""
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": "x",
        "messages": [{"role": "user", "content": text}],
        "max_tokens": MAX_TOKENS,
    }
    if session:
        body["user"] = session
    resp = await client.post(
        f"{base}/v1/chat/completions",
        json=body,
        headers={"Authorization": f"Bearer {key}"},
        timeout=60,
    )
    assert resp.status_code == 200, resp.text
    return resp.json()


async def test_two_processes_never_overspend_a_shared_budget(
    plugins_loaded: None,
    bot_process: Any,
    openai_stub: OpenAIStub,
    pg_url: str,
    redis_url: str,
    words: Path,
) -> None:
    from plugins.token_budget.tokens import estimate

    name = f"u{uuid.uuid4().hex[:8]}"
    prompt = [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "hello"},
    ]
    per_request = estimate(prompt) + MAX_TOKENS
    limit = 50 * per_request
    config = plugin_config(words, token_budget={"user_daily": limit, "user_monthly": 0})
    config |= {"database": {"url": pg_url}, "state": {"url": redis_url}}
    openai_stub.set_default("fine, thanks", delay=0.3, chunk_chars=4)
    bots = [await bot_process(config), await bot_process(config)]
    key = await api_key(bots[0], name)
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=400)) as client:
        answers = await asyncio.gather(
            *(
                ask(client, bots[i % 2].base_url, key, "hello", session=f"s{i}")
                for i in range(200)
            )
        )
    texts = [a["choices"][0]["message"]["content"] for a in answers]
    admitted = texts.count("fine, thanks")
    refused = sum("token budget" in t for t in texts)
    assert admitted + refused == 200, set(texts)
    assert admitted >= 50
    redis = aioredis.Redis.from_url(redis_url, decode_responses=True)
    try:
        keys = [
            k
            async for k in redis.scan_iter(
                match=f"freechat:budget:user:openai:{name}:*"
            )
        ]
        assert len(keys) == 1
        spent = int(await redis.get(keys[0]) or 0)
        await redis.delete(*keys)
    finally:
        await redis.aclose()
    assert 0 < spent <= limit
    # what the stub reports is what was charged (prompt chars + answer chars)
    assert spent == sum(
        a["usage"]["total_tokens"]
        for a in answers
        if a["choices"][0]["message"]["content"] == "fine, thanks"
    )
    assert len(openai_stub.requests) == admitted


async def test_keywords_words_history_and_limits_in_one_process(
    plugins_loaded: None, bot_process: Any, openai_stub: OpenAIStub, words: Path
) -> None:
    config = plugin_config(words, rate_limit={"user": 6, "user_window": 60})
    openai_stub.set_default("你这个傻冒，再见", chunk_chars=1)
    bp = await bot_process(config)
    key = await api_key(bp, "carol")
    async with httpx.AsyncClient() as client:
        hours = await ask(client, bp.base_url, key, "营业时间")
        assert hours["choices"][0]["message"]["content"] == "9:00-18:00"
        assert openai_stub.requests == []
        blocked = await ask(client, bp.base_url, key, "说说禁 词 测 试")
        assert "无法处理" in blocked["choices"][0]["message"]["content"]
        assert openai_stub.requests == []
        masked = await ask(client, bp.base_url, key, "傻@冒你好")
        assert masked["choices"][0]["message"]["content"] == "你这个**，再见"
        assert openai_stub.requests[-1]["messages"][-1]["content"] == "***你好"
        # the session's stored history (what the user saw; keyword replies too,
        # blocked messages not) goes into the next prompt
        await ask(client, bp.base_url, key, "第二句")
        assert openai_stub.requests[-1]["messages"][1:] == [
            {"role": "user", "content": "营业时间"},
            {"role": "assistant", "content": "9:00-18:00"},
            {"role": "user", "content": "***你好"},
            {"role": "assistant", "content": "你这个**，再见"},
            {"role": "user", "content": "第二句"},
        ]
        results = [await ask(client, bp.base_url, key, f"q{i}") for i in range(3)]
        last = results[-1]["choices"][0]["message"]["content"]
        assert "try again in" in last


async def test_word_added_by_an_admin_reaches_the_other_process_within_2_s(
    plugins_loaded: None,
    bot_process: Any,
    openai_stub: OpenAIStub,
    pg_url: str,
    redis_url: str,
    words: Path,
) -> None:
    name = f"admin{uuid.uuid4().hex[:6]}"
    config = plugin_config(words) | {
        "database": {"url": pg_url},
        "state": {"url": redis_url},
        "superusers": [f"openai:{name}"],
        "locale": "en",  # the admin command's answer below
    }
    config["plugins"]["admin"] = {}
    openai_stub.set_default("这里有个新加的词语要过滤", chunk_chars=2)
    bots = [await bot_process(config), await bot_process(config)]
    key = await api_key(bots[0], name)
    async with httpx.AsyncClient() as client:
        before = await ask(client, bots[1].base_url, key, "说点什么")
        assert before["choices"][0]["message"]["content"] == "这里有个新加的词语要过滤"
        added = await ask(client, bots[0].base_url, key, "/word add 新加的词语")
        assert added["choices"][0]["message"]["content"] == "Added a word in custom."
        started = asyncio.get_running_loop().time()
        while True:
            answer = await ask(client, bots[1].base_url, key, "说点什么")
            text = answer["choices"][0]["message"]["content"]
            if text == "这里有个*****要过滤":
                break
            assert asyncio.get_running_loop().time() - started < 2.0, text
            await asyncio.sleep(0.05)
