"""Rate limits per user, group and globally, in memory and in real Redis; bans and
switches from SQLite and PostgreSQL with the change feed."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fc_plugin_helpers import unique_prefix

from bot.chain import MiddlewareChain
from bot.context import ChatContext, text_stream
from bot.state import MemoryState, StateStore


async def answered(ctx: ChatContext) -> None:
    ctx.reply = text_stream("ok")


async def reply_text(ctx: ChatContext) -> str:
    return "".join([c.text async for c in ctx.reply])


@pytest.fixture(params=["memory", "redis"])
def state(
    request: pytest.FixtureRequest, redis_state: Callable[[str], Any]
) -> StateStore:
    if request.param == "memory":
        return MemoryState()
    return redis_state(unique_prefix())


def rate_chain(**values: Any) -> MiddlewareChain:
    from plugins.rate_limit.config import Config
    from plugins.rate_limit.middleware import make_rate_limit_middleware

    chain = MiddlewareChain()
    chain.register(make_rate_limit_middleware(Config(**values)), order=200)
    return chain


async def send(
    chain: MiddlewareChain, user: str, group: str | None = None, **kw: Any
) -> ChatContext:
    ctx = ChatContext(platform="qq", user_id=user, group_id=group, text="hi", **kw)
    await chain.run(ctx, answered)
    return ctx


async def test_user_limit_refuses_with_the_wait(
    plugins_loaded: None, runtime: Callable[..., Any], state: StateStore
) -> None:
    runtime(state)
    chain = rate_chain(rate_limit_user=3, rate_limit_user_window=2.0)
    for _ in range(3):
        assert (await send(chain, "u1")).stopped_by is None
    refused = await send(chain, "u1")
    assert refused.stopped_by == "rate_limited"
    text = await reply_text(refused)
    assert "try again in 2 s" in text
    assert "2 秒后再试" in text
    # told once per wait: a flood of refusals is not answered
    again = await send(chain, "u1")
    assert again.stopped_by == "rate_limited"
    assert await reply_text(again) == ""
    # other users are not affected, and the window slides
    assert (await send(chain, "u2")).stopped_by is None
    await asyncio.sleep(2.05)
    assert (await send(chain, "u1")).stopped_by is None


async def test_group_and_global_limits(
    plugins_loaded: None, runtime: Callable[..., Any], state: StateStore
) -> None:
    runtime(state)
    chain = rate_chain(
        rate_limit_user=100,
        rate_limit_group=4,
        rate_limit_group_window=30,
        rate_limit_global=6,
        rate_limit_global_window=30,
        rate_limit_message="wait {seconds}",
    )
    results = [await send(chain, f"u{i}", "g1") for i in range(5)]
    assert results[-1].extra["retry_after"] in (29, 30)
    assert [r.stopped_by for r in results] == [None] * 4 + ["rate_limited"]
    assert await reply_text(results[-1]) in {"wait 30", "wait 29"}
    # another group still has room until the global limit
    results = [await send(chain, f"v{i}", "g2") for i in range(3)]
    assert [r.stopped_by for r in results] == [None, None, "rate_limited"]


async def test_admins_are_exempt(
    plugins_loaded: None, runtime: Callable[..., Any], state: StateStore
) -> None:
    runtime(state)
    chain = rate_chain(rate_limit_user=1)
    assert (await send(chain, "boss", is_admin=True)).stopped_by is None
    assert (await send(chain, "boss", is_admin=True)).stopped_by is None
    assert (await send(chain, "pleb")).stopped_by is None
    assert (await send(chain, "pleb")).stopped_by == "rate_limited"


async def test_concurrent_hits_never_exceed_the_limit(
    plugins_loaded: None, runtime: Callable[..., Any], state: StateStore
) -> None:
    runtime(state)
    chain = rate_chain(rate_limit_user=10, rate_limit_user_window=30)
    results = await asyncio.gather(*(send(chain, "burst") for _ in range(50)))
    assert sum(r.stopped_by is None for r in results) == 10


async def test_bans_and_switches_with_the_feed(
    plugins_loaded: None,
    runtime: Callable[..., Any],
    database: str,
    redis_state: Callable[[str], Any],
) -> None:
    from bot.store.models import Ban, PluginSwitch
    from plugins.rate_limit.access import (
        AccessService,
        make_access_middleware,
        publish_access_change,
    )
    from plugins.rate_limit.config import Config

    state = redis_state(unique_prefix())
    runtime(state)
    config = Config(rate_limit_access_cache=300, rate_limit_ban_message="banned!")
    service = AccessService(config)
    chain = MiddlewareChain()
    chain.register(make_access_middleware(service, config), order=100)
    try:
        await Ban.create(user_key="qq:bad", reason="spam")
        await Ban.create(
            user_key="qq:was", until=datetime.now(UTC) - timedelta(minutes=1)
        )
        bad = await send(chain, "bad")
        assert (bad.stopped_by, await reply_text(bad)) == ("banned", "banned!")
        assert (await send(chain, "was")).stopped_by is None
        assert (await send(chain, "good")).stopped_by is None
        assert (await send(chain, "bad", is_admin=True)).stopped_by is None

        # unban: the cache (300 s) is dropped through the feed
        await Ban.filter(user_key="qq:bad").delete()
        await publish_access_change("unban", "qq:bad")
        for _ in range(100):
            if (await send(chain, "bad")).stopped_by is None:
                break
            await asyncio.sleep(0.02)
        else:
            pytest.fail("unban not applied")

        await PluginSwitch.create(plugin="chat", scope="qq:g1", enabled=False)
        await publish_access_change("switch", "qq:g1")
        await asyncio.sleep(0.2)
        quiet = await send(chain, "good", "g1")
        assert (quiet.stopped_by, await reply_text(quiet)) == ("disabled", "")
        assert (await send(chain, "good", "g2")).stopped_by is None
    finally:
        await service.stop()
