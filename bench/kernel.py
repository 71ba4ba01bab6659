"""Middleware-chain overhead per message.

Runs the real chain with 6 no-op middlewares (each awaits ``call_next`` and wraps the
reply stream, as output filters do) around an instant LLM stub, and, in the same run,
the bare terminal as the baseline. Prints microseconds per message (median of
repeats). Target: the chain adds under 50 µs per message.

    python bench/kernel.py [--messages 20000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import AsyncIterator

from bot.chain import MiddlewareChain
from bot.context import ChatContext, ReplyChunk, closing, text_stream
from bot.delivery import collect


def passthrough(stream: AsyncIterator[ReplyChunk]) -> AsyncIterator[ReplyChunk]:
    async def gen() -> AsyncIterator[ReplyChunk]:
        async with closing(stream) as chunks:
            async for chunk in chunks:
                yield chunk

    return gen()


def make_chain(n: int) -> MiddlewareChain:
    chain = MiddlewareChain()
    for i in range(n):

        async def mw(ctx: ChatContext, call_next) -> None:  # type: ignore[no-untyped-def]
            await call_next()
            ctx.reply = passthrough(ctx.reply)

        chain.register(mw, order=i * 100, name=f"noop{i}")
    return chain


async def terminal(ctx: ChatContext) -> None:
    ctx.reply = text_stream("instant answer")


async def per_message(chain: MiddlewareChain, messages: int) -> float:
    start = time.perf_counter()
    for i in range(messages):
        ctx = ChatContext(platform="bench", user_id=str(i % 100), text="hello")
        await chain.run(ctx, terminal)
        await collect(ctx.reply)
    return (time.perf_counter() - start) / messages * 1e6


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    base_chain, full_chain = make_chain(0), make_chain(6)
    await per_message(full_chain, 1000)  # warm up
    base, full = [], []
    for _ in range(args.repeats):  # interleaved, so drift hits both alike
        base.append(await per_message(base_chain, args.messages))
        full.append(await per_message(full_chain, args.messages))
    b, f = statistics.median(base), statistics.median(full)
    print(f"| chain | µs per message (median of {args.repeats}) |")
    print("|---|---|")
    print(f"| bare terminal (baseline) | {b:.1f} |")
    print(f"| 6 no-op middlewares | {f:.1f} |")
    print(f"| overhead of the chain | {f - b:.1f} (target < 50) |")


if __name__ == "__main__":
    asyncio.run(main())
