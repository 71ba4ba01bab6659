"""The sensitive-word middleware in a chain, and the change feed across instances
(two services on one Redis, words in SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from fc_plugin_helpers import unique_prefix

from bot.chain import MiddlewareChain
from bot.context import ChatContext, ReplyChunk
from bot.state import MemoryState


@pytest.fixture
def words_dir(tmp_path: Path) -> Path:
    (tmp_path / "insult.txt").write_text("傻冒\nfuck\n", encoding="utf-8")
    (tmp_path / "politics.txt").write_text("法轮功\n", encoding="utf-8")
    return tmp_path


def make_config(words_dir: Path, **extra: Any) -> Any:
    from plugins.sensitive_words.config import Config

    return Config(
        sensitive_words_dirs=[str(words_dir)],
        sensitive_words_categories={"politics": "block"},
        **extra,
    )


async def model(ctx: ChatContext) -> None:
    async def answer() -> AsyncIterator[ReplyChunk]:
        yield ReplyChunk(reasoning="用户说傻")
        yield ReplyChunk(reasoning="冒，")
        for piece in ["你才", "傻", "\u200b", "冒", "，f", "u", "ck", "!"]:
            yield ReplyChunk(text=piece)

    ctx.extra["model_called"] = True
    ctx.reply = answer()


async def collect(ctx: ChatContext) -> tuple[str, str]:
    text, reasoning = [], []
    async for chunk in ctx.reply:
        text.append(chunk.text)
        reasoning.append(chunk.reasoning)
    return "".join(text), "".join(reasoning)


async def test_middleware_masks_input_and_filters_streamed_text_and_reasoning(
    plugins_loaded: None, runtime: Callable[..., Any], words_dir: Path
) -> None:
    from plugins.sensitive_words.middleware import make_middleware
    from plugins.sensitive_words.service import WordService

    runtime(MemoryState())
    config = make_config(words_dir)
    service = WordService(config)
    chain = MiddlewareChain()
    chain.register(make_middleware(service, config), order=400)
    try:
        ctx = ChatContext(platform="qq", user_id="1", text="你这个傻-冒")
        await chain.run(ctx, model)
        assert ctx.text == "你这个***"
        assert ctx.extra["model_called"]
        text, reasoning = await collect(ctx)
        assert text == "你才***，****!"
        assert reasoning == "用户说**，"
    finally:
        await service.stop()


async def test_blocked_input_never_reaches_the_model(
    plugins_loaded: None, runtime: Callable[..., Any], words_dir: Path
) -> None:
    from plugins.sensitive_words.middleware import make_middleware
    from plugins.sensitive_words.service import WordService

    runtime(MemoryState())
    config = make_config(words_dir, sensitive_words_notice="不行")
    service = WordService(config)
    chain = MiddlewareChain()
    chain.register(make_middleware(service, config), order=400)
    try:
        ctx = ChatContext(platform="qq", user_id="1", text="法 輪 功是什么")
        await chain.run(ctx, model)
        assert "model_called" not in ctx.extra
        assert ctx.stopped_by == "blocked"
        assert await collect(ctx) == ("不行", "")
    finally:
        await service.stop()


async def test_consumer_stopping_early_closes_the_model_stream(
    plugins_loaded: None, words_dir: Path
) -> None:
    from plugins.sensitive_words.core import Matcher
    from plugins.sensitive_words.middleware import filter_reply

    closed = asyncio.Event()

    async def endless() -> AsyncIterator[ReplyChunk]:
        try:
            while True:
                yield ReplyChunk(text="abc ")
                await asyncio.sleep(0)
        finally:
            closed.set()

    wrapped = filter_reply(endless(), Matcher([("傻冒", "x")]))
    async for _chunk in wrapped:
        break
    await wrapped.aclose()  # type: ignore[attr-defined]
    assert closed.is_set()


@pytest.mark.parametrize("backend", ["memory", "redis"])
async def test_word_changes_reach_every_instance_within_two_seconds(
    plugins_loaded: None,
    database: str,
    redis_state: Callable[[str], Any],
    words_dir: Path,
    backend: str,
) -> None:
    from bot.store.models import SensitiveWord
    from plugins.sensitive_words.service import WordService, publish_change

    if backend == "redis":
        prefix = unique_prefix()
        states = [redis_state(prefix), redis_state(prefix)]
    else:
        shared = MemoryState()
        states = [shared, shared]
    config = make_config(words_dir)
    services = [WordService(config, state=s) for s in states]
    try:
        for service in services:
            assert not (await service.get()).find("新词汇测试")
        await SensitiveWord.create(word="新词汇测试", category="custom")
        started = time.monotonic()
        await publish_change("add", "新词汇测试", "custom", state=states[0])
        while not all(
            s.matcher is not None and s.matcher.find("这是新词汇测试") for s in services
        ):
            assert time.monotonic() - started < 2.0, "change not applied in 2 s"
            await asyncio.sleep(0.02)
        await SensitiveWord.filter(word="新词汇测试").delete()
        await publish_change("del", "新词汇测试", "custom", state=states[1])
        started = time.monotonic()
        while any(
            s.matcher is not None and s.matcher.find("这是新词汇测试") for s in services
        ):
            assert time.monotonic() - started < 2.0, "removal not applied in 2 s"
            await asyncio.sleep(0.02)
    finally:
        for service in services:
            await service.stop()
