"""The middleware chain: order, short-circuit, output wrapping, disposers, guards."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.chain import MAX_DEPTH, MiddlewareChain
from bot.context import ChatContext, ReplyChunk, text_stream
from bot.delivery import collect
from bot.exceptions import ChainError


def ctx() -> ChatContext:
    return ChatContext(platform="test", user_id="u1", text="hi")


async def test_order_and_onion() -> None:
    chain = MiddlewareChain()
    calls: list[str] = []

    def make(name: str):
        async def mw(c: ChatContext, call_next) -> None:
            calls.append(f"{name}>")
            await call_next()
            calls.append(f"<{name}")

        return mw

    chain.register(make("c"), order=300)
    chain.register(make("a"), order=100)
    chain.register(make("b"), order=200)
    chain.register(make("b2"), order=200)  # ties keep registration order

    async def terminal(c: ChatContext) -> None:
        calls.append("model")

    await chain.run(ctx(), terminal)
    assert calls == ["a>", "b>", "b2>", "c>", "model", "<c", "<b2", "<b", "<a"]


async def test_short_circuit_skips_inner_and_model() -> None:
    chain = MiddlewareChain()
    reached: list[str] = []

    async def keyword(c: ChatContext, call_next) -> None:
        c.respond("fixed answer", reason="keyword")

    async def inner(c: ChatContext, call_next) -> None:
        reached.append("inner")
        await call_next()

    chain.register(keyword, order=100)
    chain.register(inner, order=200)

    async def terminal(c: ChatContext) -> None:
        reached.append("model")

    c = ctx()
    await chain.run(c, terminal)
    assert reached == []
    assert c.stopped_by == "keyword"
    assert await collect(c.reply) == ("fixed answer", "")


async def test_outer_wrapper_sees_inner_output() -> None:
    chain = MiddlewareChain()

    def upper(stream: AsyncIterator[ReplyChunk]) -> AsyncIterator[ReplyChunk]:
        async def gen() -> AsyncIterator[ReplyChunk]:
            async for chunk in stream:
                yield ReplyChunk(chunk.text.upper())

        return gen()

    def exclaim(stream: AsyncIterator[ReplyChunk]) -> AsyncIterator[ReplyChunk]:
        async def gen() -> AsyncIterator[ReplyChunk]:
            async for chunk in stream:
                yield ReplyChunk(chunk.text + "!")

        return gen()

    async def outer(c: ChatContext, call_next) -> None:
        await call_next()
        c.reply = exclaim(c.reply)

    async def inner(c: ChatContext, call_next) -> None:
        await call_next()
        c.reply = upper(c.reply)

    chain.register(outer, order=1)
    chain.register(inner, order=2)

    async def terminal(c: ChatContext) -> None:
        c.reply = text_stream("abc")

    c = ctx()
    await chain.run(c, terminal)
    assert (await collect(c.reply))[0] == "ABC!"


async def test_disposer_removes_middleware() -> None:
    chain = MiddlewareChain()
    seen: list[str] = []

    async def mw(c: ChatContext, call_next) -> None:
        seen.append("mw")
        await call_next()

    dispose = chain.register(mw, order=1, name="mw")
    assert chain.names == ["mw"]
    dispose()
    dispose()  # twice is harmless
    assert chain.names == []

    async def terminal(c: ChatContext) -> None:
        seen.append("model")

    await chain.run(ctx(), terminal)
    assert seen == ["model"]


async def test_call_next_twice_is_refused() -> None:
    chain = MiddlewareChain()

    async def twice(c: ChatContext, call_next) -> None:
        await call_next()
        await call_next()

    chain.register(twice, order=1, name="twice")

    async def terminal(c: ChatContext) -> None:
        return None

    with pytest.raises(ChainError, match="twice"):
        await chain.run(ctx(), terminal)


def test_depth_guard() -> None:
    chain = MiddlewareChain()

    async def mw(c: ChatContext, call_next) -> None:
        await call_next()

    for i in range(MAX_DEPTH):
        chain.register(mw, order=i)
    with pytest.raises(ChainError, match="full"):
        chain.register(mw, order=999)


async def test_observer_gets_each_middleware_time() -> None:
    chain = MiddlewareChain()
    seen: list[tuple[str, float]] = []
    chain.set_observer(lambda name, sec: seen.append((name, sec)))

    async def a(c: ChatContext, call_next) -> None:
        await call_next()

    chain.register(a, order=1, name="a")

    async def terminal(c: ChatContext) -> None:
        return None

    await chain.run(ctx(), terminal)
    assert [n for n, _ in seen] == ["a"]
    assert seen[0][1] >= 0


def test_context_defaults_and_prompt() -> None:
    c = ChatContext(platform="qq", user_id="42", text="hello", group_id="g1")
    assert c.session_id == "qq:g1"
    assert c.user_key == "qq:42"
    assert c.group_key == "qq:g1"
    c.system_prompt = "be brief"
    assert c.prompt() == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "hello"},
    ]
    assert ChatContext(platform="qq", user_id="42", text="x").session_id == "qq:user:42"
