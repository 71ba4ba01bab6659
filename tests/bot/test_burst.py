"""The chat's burst merging and answer turns, used by plugins.chat (``bot.burst``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from bot.burst import Bursts, until_cancelled
from bot.content import ImagePart
from bot.context import ChatContext, ReplyChunk


def msg(text: str, user: str = "1", group: str = "g") -> ChatContext:
    return ChatContext(platform="qq", user_id=user, group_id=group, text=text)


async def test_one_users_messages_merge_other_users_do_not() -> None:
    bursts = Bursts(0.3, "queue")
    first = asyncio.create_task(bursts.gather(msg("hi")))
    await asyncio.sleep(0)
    pic = msg("")
    pic.parts = [ImagePart("https://x.qpic.cn/1")]
    assert await bursts.gather(msg("look at this")) is None
    assert await bursts.gather(pic) is None
    other = asyncio.create_task(bursts.gather(msg("me too", user="2")))
    merged = await first
    assert merged is not None
    assert merged.text == "hi\nlook at this"
    assert merged.parts == pic.parts
    assert merged.extra["merged"] == 3
    alone = await other
    assert alone is not None
    assert alone.text == "me too"
    # the window closed: the next message opens a new one
    assert await Bursts(0, "queue").gather(msg("now")) is not None


async def slow(n: int) -> AsyncIterator[ReplyChunk]:
    for _ in range(n):
        await asyncio.sleep(0.01)
        yield ReplyChunk(text="x")


async def test_interrupt_stops_the_answer_being_written() -> None:
    bursts = Bursts(1, "interrupt")
    old, new = msg("old"), msg("new")
    got: list[str] = []
    started = asyncio.Event()

    async def answer(ctx: ChatContext) -> None:
        async with bursts.turn(ctx):
            async for chunk in until_cancelled(ctx, slow(200)):
                got.append(ctx.text + chunk.text)
                started.set()

    running = asyncio.create_task(answer(old))
    await started.wait()
    await answer(new)
    await running
    assert old.cancelled.is_set()
    assert old.extra["finish_reason"] == "cancelled"
    assert got.count("newx") == 200
    assert got.count("oldx") < 200
    assert got.index("newx") > max(i for i, g in enumerate(got) if g == "oldx")
