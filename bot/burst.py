"""One user's burst of short messages answered once, and one answer at a time.

People type "hi" / "quick question" / "how do I ..." as three messages. With
``plugins.chat.merge_window`` > 0 the first message of a user in a chat opens a
window of that many seconds; every message of the same user in the same chat that
arrives inside it joins the first, and the merged message is answered once when the
window closes. A message that arrives while that user's answer is still being
written waits behind it (``queue``), stops it (``interrupt``) or is answered at the
same time (``parallel``, the behaviour without this module).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Literal

from bot.context import ChatContext, ReplyChunk, closing

Mode = Literal["queue", "interrupt", "parallel"]
#: messages of one burst beyond this many are dropped (a flood is not a question)
MAX_MESSAGES = 20


def burst_key(ctx: ChatContext) -> str:
    return f"{ctx.session_id}\0{ctx.user_key}"


@dataclass
class _Burst:
    first: ChatContext
    more: list[ChatContext] = field(default_factory=list)

    def merged(self) -> ChatContext:
        ctx = self.first
        for other in self.more:
            if other.text:
                ctx.text = f"{ctx.text}\n{other.text}" if ctx.text else other.text
            ctx.parts.extend(other.parts)
        ctx.extra["merged"] = 1 + len(self.more)
        return ctx


@dataclass
class _Turn:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0
    current: ChatContext | None = None


class Bursts:
    """Merge windows and answer turns, per user and chat, in this process."""

    def __init__(self, window: float, mode: Mode) -> None:
        self.window = window
        self.mode = mode
        self._open: dict[str, _Burst] = {}
        self._turns: dict[str, _Turn] = {}

    async def gather(self, ctx: ChatContext) -> ChatContext | None:
        """The merged message to answer, after the window; ``None`` when ``ctx``
        joined a burst that another call answers."""
        if self.window <= 0:
            return ctx
        key = burst_key(ctx)
        burst = self._open.get(key)
        if burst is not None:
            if len(burst.more) < MAX_MESSAGES - 1:
                burst.more.append(ctx)
            return None
        burst = self._open[key] = _Burst(ctx)
        try:
            await asyncio.sleep(self.window)
        finally:
            del self._open[key]
        return burst.merged()

    @asynccontextmanager
    async def turn(self, ctx: ChatContext) -> AsyncIterator[None]:
        """Hold the user's turn in this chat while ``ctx`` is answered (only with
        a merge window: without one every message is answered as it comes)."""
        if self.mode == "parallel" or self.window <= 0:
            yield
            return
        key = burst_key(ctx)
        turn = self._turns.setdefault(key, _Turn())
        turn.users += 1
        try:
            if self.mode == "interrupt" and turn.current is not None:
                turn.current.cancelled.set()
            async with turn.lock:
                turn.current = ctx
                try:
                    yield
                finally:
                    turn.current = None
        finally:
            turn.users -= 1
            if not turn.users:
                del self._turns[key]


async def until_cancelled(
    ctx: ChatContext, reply: AsyncIterator[ReplyChunk]
) -> AsyncIterator[ReplyChunk]:
    """``reply`` that stops (closing the model's stream) once ``ctx.cancelled`` is
    set, so a newer message can take the turn."""
    async with closing(reply) as chunks:
        async for chunk in chunks:
            if ctx.cancelled.is_set():
                ctx.extra["finish_reason"] = "cancelled"
                return
            yield chunk
