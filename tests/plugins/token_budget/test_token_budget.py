"""Token budgets: quota keys, atomic reservations with roll-back, settling, trimming,
token counting (service, local tokenizer, estimate), the middleware, overrides from
the database, Redis failing closed, and two processes sharing one Redis."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fc_plugin_helpers import unique_prefix
from tb_tokenize_server import TokenizeServer, count_messages

from bot.chain import MiddlewareChain
from bot.context import ChatContext, PromptMessage, ReplyChunk
from bot.registry import Endpoint
from bot.settings import Settings
from bot.state import MemoryState, StateStore
from bot.state.redis import RedisState

HERE = Path(__file__).parent
ROOT = HERE.parents[2]
REDIS_URL = os.environ.get("FREECHAT_TEST_REDIS", "redis://127.0.0.1:6379/0")


@pytest.fixture(params=["memory", "redis"])
def state(
    request: pytest.FixtureRequest, redis_state: Callable[[str], Any]
) -> StateStore:
    if request.param == "memory":
        return MemoryState()
    return redis_state(unique_prefix())


@pytest.fixture
async def tokenize_server() -> AsyncIterator[TokenizeServer]:
    server = await TokenizeServer().start()
    yield server
    await server.stop()


def test_quota_keys_carry_the_period_and_expire_after_it(plugins_loaded: None) -> None:
    from plugins.token_budget.core import Limits, quotas_for

    now = datetime(2026, 1, 31, 23, 0, tzinfo=UTC)
    qs = quotas_for("qq:1", "qq:g", Limits(10, 100), Limits(0, 1000), now=now)
    assert [(q.key, q.limit) for q in qs] == [
        ("budget:user:qq:1:20260131", 10),
        ("budget:user:qq:1:202601", 100),
        ("budget:group:qq:g:202601", 1000),
    ]
    assert qs[0].ttl == pytest.approx(3600 + 2 * 86400)
    assert qs[1].ttl == pytest.approx(3600 + 2 * 86400)
    assert quotas_for("qq:1", None, Limits(0, 0), Limits(5, 5), now=now) == []


def test_quota_cache_gives_todays_quotas(plugins_loaded: None) -> None:
    from plugins.token_budget.core import Limits, QuotaCache, quotas_for

    cache = QuotaCache()
    first = cache.get("qq:1", "qq:g", Limits(10, 100), Limits(5, 0), tz="Asia/Shanghai")
    today = datetime.now(ZoneInfo("Asia/Shanghai")).strftime("%Y%m%d")
    assert [(q.key, q.limit) for q in first] == [
        (f"budget:user:qq:1:{today}", 10),
        (f"budget:user:qq:1:{today[:6]}", 100),
        (f"budget:group:qq:g:{today}", 5),
    ]
    # the same quotas as computed from scratch, counters living to the period's end
    fresh = quotas_for(
        "qq:1", "qq:g", Limits(10, 100), Limits(5, 0), tz="Asia/Shanghai"
    )
    assert [(q.key, q.limit, q.period) for q in fresh] == [
        (q.key, q.limit, q.period) for q in first
    ]
    for cached, computed in zip(first, fresh, strict=True):
        assert cached.ttl == pytest.approx(computed.ttl, abs=5)
    # other limits (an override) are other quotas; another zone, another calendar
    assert cache.get("qq:1", "qq:g", Limits(20, 0), Limits(), tz="UTC")[0].limit == 20
    assert cache.get("qq:2", None, Limits(0, 7), Limits(9, 9), tz="UTC")[0].key == (
        f"budget:user:qq:2:{datetime.now(UTC).strftime('%Y%m')}"
    )
    # a calendar whose day has ended is computed again
    cache._periods["UTC"] = ("19991231", "199912", 946684800.0, 946684800.0)
    assert cache.get("qq:3", None, Limits(1, 0), Limits(), tz="UTC")[0].key == (
        f"budget:user:qq:3:{datetime.now(UTC).strftime('%Y%m%d')}"
    )


async def test_reserve_rolls_back_and_settles_to_usage(
    plugins_loaded: None, state: StateStore
) -> None:
    from plugins.token_budget.core import (
        Limits,
        Refused,
        Reservation,
        quotas_for,
        reserve,
    )

    now = datetime(2026, 5, 5, tzinfo=UTC)
    qs = quotas_for("qq:1", "qq:g", Limits(1000, 0), Limits(300, 0), now=now)
    first = await reserve(state, qs, 250)
    assert isinstance(first, Reservation)
    refused = await reserve(state, qs, 100)  # the user has room, the group not
    assert isinstance(refused, Refused)
    assert refused.quota.scope == "group"
    # the user's part was given back
    assert await state.get(qs[0].key) == "250"
    assert await first.settle(120) == 120
    assert await state.get(qs[0].key) == "120"
    assert await state.get(qs[1].key) == "120"
    second = await reserve(state, qs, 150)
    assert isinstance(second, Reservation)
    assert await second.settle(10_000) == 150  # never above the reservation
    third = await reserve(state, qs, 30)
    assert isinstance(third, Reservation)
    await third.release()
    await third.release()  # idempotent
    assert await state.get(qs[1].key) == "270"


async def test_concurrent_reservations_never_overspend(
    plugins_loaded: None, state: StateStore
) -> None:
    from plugins.token_budget.core import Limits, Reservation, quotas_for, reserve

    qs = quotas_for("qq:c", None, Limits(daily=10_000, monthly=50_000), Limits())

    async def one() -> int:
        r = await reserve(state, qs, 200)
        if not isinstance(r, Reservation):
            return 0
        await asyncio.sleep(0.001)
        return await r.settle(200)

    charged = await asyncio.gather(*(one() for _ in range(200)))
    assert sum(charged) == 10_000
    assert int(await state.get(qs[0].key) or 0) == 10_000


async def count(msgs: list[dict[str, str]]) -> int:
    return count_messages(msgs)


#: two turns of 20 characters each (23 tokens each as the test server counts)
FOUR_TURNS = [
    PromptMessage("user", "a" * 20),
    PromptMessage("assistant", "b" * 20),
    PromptMessage("user", "c" * 20),
    PromptMessage("assistant", "d" * 20),
]


async def test_trim_keeps_system_prompt_and_new_message(plugins_loaded: None) -> None:
    from plugins.token_budget.core import trim_history

    history = FOUR_TURNS
    # system 10+3, message 5+3, each history message 23
    out = await trim_history("s" * 10, history, "hello", 21 + 23 * 2 + 5, count)
    assert out.history == history[2:]
    assert out.prompt_tokens == 21 + 46
    assert out.dropped == 2
    # an odd budget never starts the history on an answer
    out = await trim_history("s" * 10, history, "hello", 21 + 23 * 3, count)
    assert out.history == history[2:]
    out = await trim_history("s" * 10, history, "hello", 10, count)
    assert (out.history, out.too_long) == ([], True)


async def test_trim_counts_only_what_the_cache_does_not_know(
    plugins_loaded: None, tokenize_server: TokenizeServer
) -> None:
    from plugins.token_budget.core import trim_history
    from plugins.token_budget.tokens import TokenCounter, estimate

    counter = TokenCounter(base_url=tokenize_server.base_url)
    asked: list[list[dict[str, str]]] = []

    async def count(msgs: list[dict[str, str]]) -> int:
        asked.append(msgs)
        return await counter.count(msgs)

    history = [PromptMessage("user", "一二三" * 5), PromptMessage("assistant", "ok")]
    first = await trim_history("sys", history, "hi", 10_000, count, counter.known)
    assert len(asked) == 3  # the fixed part and both history messages
    history.append(PromptMessage("user", "new turn"))
    history.append(PromptMessage("assistant", "answer"))
    asked.clear()
    second = await trim_history("sys", history, "hi", 10_000, count, counter.known)
    # old turns and the unchanged fixed part come from the cache
    assert asked == [
        [{"role": "user", "content": "new turn"}],
        [{"role": "assistant", "content": "answer"}],
    ]
    assert second.prompt_tokens == first.prompt_tokens + sum(second.counts[2:])
    # the same result as counting everything
    plain = await trim_history("sys", history, "hi", 10_000, count)
    assert (plain.prompt_tokens, plain.history) == (
        second.prompt_tokens,
        second.history,
    )
    await counter.close()

    # without a service, counting needs no waiting at all
    local = TokenCounter(mode="estimate")
    asked.clear()
    out = await trim_history("sys", history, "hi", 10_000, count, local.known)
    assert asked == []
    base = [{"role": "system", "content": "sys"}, {"role": "user", "content": "hi"}]
    assert out.prompt_tokens == estimate(base) + sum(
        estimate([m.as_dict()]) for m in history
    )
    assert local.last_source == "estimate"


async def test_counter_uses_service_then_local_tokenizer_then_estimate(
    plugins_loaded: None, tokenize_server: TokenizeServer, tmp_path: Path
) -> None:
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    from plugins.token_budget.tokens import TokenCounter, estimate

    msgs = [{"role": "user", "content": "hello there 你好"}]
    via_service = TokenCounter(base_url=tokenize_server.base_url)
    assert await via_service.count(msgs) == count_messages(msgs)
    assert via_service.last_source == "service"
    assert await via_service.count_text("abc") == 3
    await via_service.close()

    vocab = {"[UNK]": 0, "hello": 1, "there": 2}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]").save_pretrained(
        tmp_path / "tok"
    )
    gone = TokenizeServer(status=404)
    await gone.start()
    local = TokenCounter(base_url=gone.base_url, tokenizer_path=str(tmp_path / "tok"))
    try:
        assert await local.count(msgs) == 3 + 4  # hello, there, [UNK] + overhead
        assert local.last_source == "local"
        assert len(gone.calls) == 1  # a 404 is remembered
        assert await local.count([{"role": "user", "content": "hello"}]) == 5
        assert len(gone.calls) == 1
    finally:
        await local.close()
        await gone.stop()

    guess = TokenCounter(base_url="http://127.0.0.1:9/v1")
    n = await guess.count(msgs)
    assert guess.last_source == "estimate"
    assert n == estimate(msgs) == 4 + 3 + 4  # 12 others / 3, 2 CJK * 1.5, 4
    await guess.close()


async def test_a_failing_tokenize_service_is_not_asked_on_every_message(
    plugins_loaded: None,
) -> None:
    from plugins.token_budget.tokens import TokenCounter

    broken = await TokenizeServer(status=500).start()
    counter = TokenCounter(base_url=broken.base_url)
    try:
        for i in range(5):
            await counter.count([{"role": "user", "content": f"message {i}"}])
            assert counter.last_source == "estimate"
        assert len(broken.calls) == 1
    finally:
        await counter.close()
        await broken.stop()


def budget_chain(config: Any, counter: Any) -> tuple[MiddlewareChain, Any]:
    from plugins.token_budget.middleware import Overrides, make_middleware

    overrides = Overrides(config.token_budget_override_cache)
    chain = MiddlewareChain()
    chain.register(make_middleware(config, counter, overrides), order=600)
    return chain, overrides


def model(pieces: list[str], usage: tuple[int, int] | None, fail: bool = False):  # type: ignore[no-untyped-def]
    async def terminal(ctx: ChatContext) -> None:
        ctx.extra["prompt"] = ctx.prompt()
        ctx.extra["max_tokens"] = ctx.max_tokens

        async def answer() -> AsyncIterator[ReplyChunk]:
            try:
                for p in pieces:
                    yield ReplyChunk(text=p)
                    await asyncio.sleep(0)
                ctx.extra["finish_reason"] = "error" if fail else "stop"
            finally:
                if usage:
                    ctx.usage.prompt_tokens, ctx.usage.completion_tokens = usage

        ctx.reply = answer()

    return terminal


async def run(chain: MiddlewareChain, terminal: Any, **kw: Any) -> ChatContext:
    ctx = ChatContext(
        platform="qq", user_id=kw.pop("user", "u"), text=kw.pop("text", "hi"), **kw
    )
    await chain.run(ctx, terminal)
    ctx.extra["out"] = "".join([c.text async for c in ctx.reply])
    return ctx


async def used(state: StateStore, user_key: str) -> int:
    from plugins.token_budget.core import Limits, quotas_for

    q = quotas_for(user_key, None, Limits(daily=1), Limits(), tz="Asia/Shanghai")[0]
    return int(await state.get(q.key) or 0)


async def test_middleware_reserves_settles_and_refuses(
    plugins_loaded: None,
    runtime: Callable[..., Any],
    state: StateStore,
    tokenize_server: TokenizeServer,
) -> None:
    from plugins.token_budget.config import Config
    from plugins.token_budget.tokens import TokenCounter

    settings = Settings(llm={"max_tokens": 50, "context_window": 400})
    rt = runtime(state, settings)
    rt.registry.set([Endpoint(tokenize_server.base_url)])
    config = Config(token_budget_user_daily=300, token_budget_group_daily=0)
    counter = TokenCounter(base_url=tokenize_server.base_url)
    chain, overrides = budget_chain(config, counter)
    try:
        # usage reported by the model: charged exactly
        ctx = await run(chain, model(["hello"], (10, 5)), text="hi")
        assert ctx.extra["max_tokens"] == 50
        assert ctx.extra["prompt_tokens"] == 5
        assert ctx.extra["tokens_charged"] == 15
        assert await used(state, "qq:u") == 15
        # no usage: prompt count + the output counted by the service
        ctx = await run(chain, model(["abc", "de"], None), text="hey")
        assert ctx.extra["tokens_charged"] == 6 + 5
        assert await used(state, "qq:u") == 26
        # a failed model call costs nothing
        ctx = await run(chain, model(["The model failed."], None, fail=True))
        assert ctx.extra["tokens_charged"] == 0
        # a reservation that does not fit is refused before the model
        ctx = await run(chain, model(["x"], (1, 1)), text="y" * 250)
        assert ctx.stopped_by == "budget"
        assert "prompt" not in ctx.extra
        assert ctx.extra["out"].startswith("Your user token budget for this day")
        assert await used(state, "qq:u") == 26
        # others are not affected
        ctx = await run(chain, model(["ok"], (3, 1)), user="other")
        assert ctx.stopped_by is None
    finally:
        await overrides.stop()
        await counter.close()


async def test_stopped_stream_settles_what_was_generated(
    plugins_loaded: None, runtime: Callable[..., Any], state: StateStore
) -> None:
    from plugins.token_budget.config import Config
    from plugins.token_budget.tokens import TokenCounter

    runtime(state, Settings(llm={"max_tokens": 100}))
    counter = TokenCounter(mode="estimate")
    chain, overrides = budget_chain(Config(token_budget_user_daily=10_000), counter)
    try:
        ctx = ChatContext(platform="qq", user_id="s", text="tell me")
        await chain.run(ctx, model(["abc"] * 50, None))
        assert await used(state, "qq:s") == ctx.extra["prompt_tokens"] + 100
        async for _chunk in ctx.reply:
            break
        await ctx.reply.aclose()  # type: ignore[attr-defined]
        assert await used(state, "qq:s") == ctx.extra["prompt_tokens"] + 1
    finally:
        await overrides.stop()


async def test_history_is_trimmed_to_the_context_window(
    plugins_loaded: None, runtime: Callable[..., Any], tokenize_server: TokenizeServer
) -> None:
    from plugins.token_budget.config import Config
    from plugins.token_budget.tokens import TokenCounter

    runtime(MemoryState(), Settings(llm={"max_tokens": 256, "context_window": 300}))
    counter = TokenCounter(base_url=tokenize_server.base_url)
    chain, overrides = budget_chain(Config(), counter)
    history = [
        PromptMessage("user" if i % 2 == 0 else "assistant", f"{i}" * 10)
        for i in range(8)
    ]
    try:
        ctx = ChatContext(
            platform="qq", user_id="t", text="now", history=history, system_prompt="sys"
        )
        await chain.run(ctx, model(["ok"], (1, 1)))
        # 300 - 256 = 44 tokens: system 6 + message 6 + two messages of 13
        assert ctx.extra["prompt"] == [
            {"role": "system", "content": "sys"},
            {"role": "user", "content": "6" * 10},
            {"role": "assistant", "content": "7" * 10},
            {"role": "user", "content": "now"},
        ]
        [c async for c in ctx.reply]
    finally:
        await overrides.stop()
        await counter.close()


async def test_overrides_from_the_database_and_the_feed(
    plugins_loaded: None,
    runtime: Callable[..., Any],
    database: str,
    redis_state: Callable[[str], Any],
) -> None:
    from bot.store.models import BudgetOverride
    from plugins.token_budget.config import Config
    from plugins.token_budget.middleware import publish_budget_change
    from plugins.token_budget.tokens import TokenCounter

    state = redis_state(unique_prefix())
    runtime(state, Settings(llm={"max_tokens": 10}))
    counter = TokenCounter(mode="estimate")
    config = Config(token_budget_user_daily=10, token_budget_override_cache=300)
    chain, overrides = budget_chain(config, counter)
    try:
        assert (
            await run(chain, model(["x"], (1, 1)), user="vip")
        ).stopped_by == "budget"
        await BudgetOverride.create(
            scope_kind="user", scope_key="qq:vip", daily_limit=500
        )
        await publish_budget_change("user", "qq:vip")
        for _ in range(100):
            ctx = await run(chain, model(["x"], (1, 1)), user="vip")
            if ctx.stopped_by is None:
                break
            await asyncio.sleep(0.02)
        assert ctx.stopped_by is None
        assert (
            await run(chain, model(["x"], (1, 1)), user="pleb")
        ).stopped_by == "budget"
    finally:
        await overrides.stop()


async def test_redis_down_fails_closed_with_a_clear_message(
    plugins_loaded: None, runtime: Callable[..., Any]
) -> None:
    from plugins.token_budget.config import Config
    from plugins.token_budget.tokens import TokenCounter

    dead = RedisState("redis://127.0.0.1:9/0", prefix=unique_prefix())
    runtime(dead)
    counter = TokenCounter(mode="estimate")
    chain, overrides = budget_chain(Config(), counter)
    try:
        ctx = await run(chain, model(["never"], (1, 1)))
        assert ctx.stopped_by == "budget_unavailable"
        assert "unavailable" in ctx.extra["out"]
        assert "prompt" not in ctx.extra
    finally:
        await overrides.stop()
        await dead.close()


async def test_two_processes_sharing_redis_never_overspend(
    plugins_loaded: None,
) -> None:
    """200 concurrent requests from two processes against 50 requests' worth."""
    prefix = unique_prefix()
    limit = 50 * 200
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            str(HERE / "tb_worker.py"),
            REDIS_URL,
            prefix,
            "100",
            str(limit),
            cwd=str(ROOT),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    control = RedisState(REDIS_URL, prefix=prefix)
    try:
        for _ in range(600):  # both have imported and wait for the signal
            if await control.get("ready") == "2":
                break
            await asyncio.sleep(0.1)
        await control.set("go", "1", ttl=60)
        outs = [await asyncio.wait_for(p.communicate(), 120) for p in procs]
        results = []
        for p, (out, err) in zip(procs, outs, strict=True):
            assert p.returncode == 0, err.decode()[-2000:]
            results.append(json.loads(out.decode().strip().splitlines()[-1]))
        assert all(r["admitted"] > 0 for r in results), results  # both took part
        assert sum(r["admitted"] for r in results) == 50
        assert sum(r["charged"] for r in results) == limit
        keys = [k async for k in control._redis.scan_iter(match=f"{prefix}budget:*")]
        assert len(keys) == 1
        assert int(await control._redis.get(keys[0])) == limit
    finally:
        await control.close()


async def test_a_message_too_long_alone_is_refused_without_model_or_reservation(
    plugins_loaded: None, runtime: Callable[..., Any]
) -> None:
    """The system prompt and the message alone exceed the context window: the
    middleware answers itself; the model is never called and nothing is reserved
    (or left reserved) against the quota."""
    from plugins.token_budget.config import Config
    from plugins.token_budget.tokens import TokenCounter

    state = MemoryState()
    runtime(state, Settings(llm={"max_tokens": 50, "context_window": 300}))
    config = Config(token_budget_user_daily=1_000_000)
    counter = TokenCounter(mode="estimate")
    chain, overrides = budget_chain(config, counter)
    calls: list[ChatContext] = []
    inner = model(["never"], (1, 1))

    async def terminal(ctx: ChatContext) -> None:
        calls.append(ctx)
        await inner(ctx)

    try:
        ctx = await run(chain, terminal, text="x " * 2000)
        assert ctx.stopped_by == "too_long"
        assert ctx.extra["out"] == config.token_budget_too_long_message
        assert calls == []
        assert await used(state, "qq:u") == 0
        # a message that fits goes through (the refusal was about its length)
        ctx = await run(chain, terminal, text="short")
        assert ctx.stopped_by is None
        assert len(calls) == 1
    finally:
        await overrides.stop()
        await counter.close()


@pytest.mark.parametrize("budget_left", [0, 10, 23, 30, 46, 50, 69, 100])
async def test_trim_fits_the_window_when_history_ends_on_a_user_message(
    plugins_loaded: None, budget_left: int
) -> None:
    """A failed earlier turn leaves the history ending on a user message (no
    answer saved): whatever the budget, the kept prompt fits it, is counted
    right, is a suffix of the history and starts on a user message."""
    from plugins.token_budget.core import trim_history

    history = [
        *FOUR_TURNS,
        PromptMessage("user", "e" * 20),  # its answer failed: none saved
    ]
    fixed = count_messages(
        [{"role": "system", "content": "s" * 10}, {"role": "user", "content": "hi"}]
    )
    budget = fixed + budget_left
    out = await trim_history("s" * 10, history, "hi", budget, count)
    assert not out.too_long
    prompt = [
        {"role": "system", "content": "s" * 10},
        *(m.as_dict() for m in out.history),
        {"role": "user", "content": "hi"},
    ]
    real = fixed + sum(count_messages([m.as_dict()]) for m in out.history)
    assert out.prompt_tokens == real <= budget
    assert count_messages(prompt) <= budget
    assert out.history == history[len(history) - len(out.history) :]
    assert not out.history or out.history[0].role == "user"
    # nothing was dropped that would have fitted: one more user-led suffix exceeds
    longer = [i for i in range(len(history)) if history[i].role == "user"]
    start = len(history) - len(out.history)
    earlier = [i for i in longer if i < start]
    if earlier:
        extra = sum(count_messages([m.as_dict()]) for m in history[earlier[-1] :])
        assert fixed + extra > budget
