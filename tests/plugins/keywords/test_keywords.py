"""Keyword rules: kinds, scopes, priorities, normalisation, bounded regexes, rules
from SQLite/PostgreSQL reloaded through the change feed, the middleware."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest
from fc_plugin_helpers import unique_prefix

from bot.chain import MiddlewareChain
from bot.context import ChatContext, text_stream
from bot.state import MemoryState


def rules(*specs: tuple[str, str, str, int, str]) -> list[Any]:
    from plugins.keywords.core import Rule

    return [
        Rule(pattern=p, reply=r, match=m, priority=prio, scope=scope, id=i + 1)
        for i, (m, p, r, prio, scope) in enumerate(specs)
    ]


def test_kinds_priorities_and_scopes(plugins_loaded: None) -> None:
    from plugins.keywords.core import KeywordIndex

    index = KeywordIndex(
        rules(
            ("exact", "help", "exact help", 0, "global"),
            ("contains", "help", "contains help", 0, "global"),
            ("contains", "price", "group price", 5, "qq:g1"),
            ("contains", "price", "global price", 1, "global"),
            ("regex", r"order\s*#?\d{4,}", "order status", 3, "global"),
            ("contains", "退款", "refund", 0, "global"),
        )
    )
    assert index.find("help").reply == "exact help"  # exact beats contains at a tie
    assert index.find("I need HELP now").reply == "contains help"
    assert index.find("the price?", "qq:g1").reply == "group price"
    assert index.find("the price?", "qq:g2").reply == "global price"
    assert index.find("the price?").reply == "global price"
    assert index.find("where is order #12345 and the price").reply == "order status"
    assert index.find("Ｈｅｌｐ").reply == "exact help"  # full-width, case
    assert index.find("我要退款").reply == "refund"
    assert index.find("我要退款".replace("退", "\u200b退")).reply == "refund"
    assert index.find("nothing here") is None
    assert index.find("help\ud800").reply == "exact help"  # broken JSON text


def test_traditional_text_matches_simplified_rules(plugins_loaded: None) -> None:
    from plugins.keywords.core import KeywordIndex

    index = KeywordIndex(rules(("contains", "营业时间", "9-18", 0, "global")))
    assert index.find("請問營業時間？").reply == "9-18"


@pytest.mark.parametrize(
    "pattern", [r"(a+)+$", r"(\w+\s?)*x", r"(a|b+){2,}", "x" * 400, r"(unclosed"]
)
def test_dangerous_or_invalid_regexes_are_rejected(
    plugins_loaded: None, pattern: str
) -> None:
    from plugins.keywords.core import KeywordIndex, RuleError, validate_regex

    with pytest.raises(RuleError):
        validate_regex(pattern)
    index = KeywordIndex(rules(("regex", pattern, "r", 0, "global")))
    assert index.size == 0
    assert len(index.rejected) == 1


def test_a_slow_regex_is_cut_off_and_counts_as_no_match(plugins_loaded: None) -> None:
    from plugins.keywords.core import KeywordIndex

    index = KeywordIndex(
        rules(
            ("regex", r"^(?:a|aa)*$", "slow", 10, "global"),
            ("contains", "aaa", "fallback", 0, "global"),
        ),
        regex_timeout=0.05,
        max_input=5000,
    )
    started = time.perf_counter()
    assert index.find("a" * 3000 + "b").reply == "fallback"
    assert time.perf_counter() - started < 1.0


def test_input_length_is_capped_for_matching(plugins_loaded: None) -> None:
    from plugins.keywords.core import KeywordIndex

    index = KeywordIndex(
        rules(("contains", "needle", "found", 0, "global")), max_input=100
    )
    assert index.find("x" * 50 + "needle").reply == "found"
    assert index.find("x" * 200 + "needle") is None


def test_ten_thousand_contains_rules_answer_fast(plugins_loaded: None) -> None:
    from plugins.keywords.core import KeywordIndex, Rule

    many = [Rule(f"关键词{i:05d}", f"reply {i}", id=i + 1) for i in range(10_000)]
    index = KeywordIndex(many)
    text = "这是一条很长的普通消息，" * 50 + "关键词09999"
    started = time.perf_counter()
    for _ in range(100):
        assert index.find(text).reply == "reply 9999"
    assert time.perf_counter() - started < 2.0  # about 1 ms per message expected


async def test_rules_from_the_database_reload_on_every_instance(
    plugins_loaded: None, database: str, redis_state: Callable[[str], Any]
) -> None:
    from bot.store.models import KeywordRule
    from plugins.keywords.config import Config
    from plugins.keywords.middleware import KeywordService, publish_keyword_change

    prefix = unique_prefix()
    states = [redis_state(prefix), redis_state(prefix)]
    config = Config(
        keywords_rules=[{"match": "exact", "pattern": "ping", "reply": "pong"}]
    )
    services = [KeywordService(config, state=s) for s in states]
    try:
        for s in services:
            index = await s.get()
            assert index.find("ping").reply == "pong"
            assert index.find("营业时间") is None
        rule = await KeywordRule.create(
            pattern="营业时间", reply="9:00-18:00", match="contains"
        )
        await publish_keyword_change("add", rule.id, state=states[0])
        started = time.monotonic()
        while not all(
            s.index is not None and s.index.find("营业时间？") for s in services
        ):
            assert time.monotonic() - started < 2.0
            await asyncio.sleep(0.02)
        assert services[1].index is not None
        found = services[1].index.find("营业时间？")
        assert found is not None
        assert found.id == rule.id
    finally:
        for s in services:
            await s.stop()


async def test_middleware_answers_and_stops_the_chain(
    plugins_loaded: None, runtime: Callable[..., Any]
) -> None:
    from plugins.keywords.config import Config
    from plugins.keywords.middleware import KeywordService, make_middleware

    runtime(MemoryState())
    service = KeywordService(
        Config(
            keywords_rules=[{"match": "contains", "pattern": "hours", "reply": "9-18"}]
        )
    )
    chain = MiddlewareChain()
    chain.register(make_middleware(service), order=500)
    called: list[str] = []

    async def model(ctx: ChatContext) -> None:
        called.append(ctx.text)
        ctx.reply = text_stream("model")

    try:
        ctx = ChatContext(platform="qq", user_id="1", text="opening hours?")
        await chain.run(ctx, model)
        assert ctx.stopped_by == "keyword"
        assert [c.text async for c in ctx.reply] == ["9-18"]
        ctx = ChatContext(platform="qq", user_id="1", text="hello")
        await chain.run(ctx, model)
        assert called == ["hello"]
    finally:
        await service.stop()
