"""Delivery strategies: how a streamed answer reaches a platform.

- :func:`deliver_stream`: live updates (web chat, WeCom AI bot), coalescing deltas
  when the platform is slower than the model.
- :func:`deliver_segments`: finished paragraphs as separate messages (QQ, WeChat), at
  most one per ``min_interval``, at most ``max_messages`` (the rest merged), code
  blocks never split, each message at most ``max_chars``.
- :func:`deliver_whole`: one message (split only at ``max_chars``).

Reasoning text is only passed to stream sinks; the others drop it.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol

from bot.context import ReplyChunk, closing

SendText = Callable[[str], Awaitable[None]]

# a CJK sentence end, or a Latin one followed by a space (not "3.14")
_SENTENCE_END = re.compile(r"[。！？；…]|[.!?;](?=\s)")


class StreamSink(Protocol):
    """Receives a live answer."""

    async def update(self, text: str, delta: ReplyChunk) -> None:
        """``text`` is everything so far; ``delta`` what was added since last call."""

    async def finish(self, text: str) -> None:
        """The answer is complete (also after an error or a stop)."""


async def deliver_stream(
    stream: AsyncIterator[ReplyChunk], sink: StreamSink, *, min_interval: float = 0.0
) -> str:
    """Forward ``stream`` to ``sink``; return the full text.

    With ``min_interval`` > 0, updates closer together than that are merged into the
    next one, so a slow platform gets fewer, bigger updates instead of a backlog.
    """
    text: list[str] = []
    pending_text: list[str] = []
    pending_reason: list[str] = []
    last = 0.0
    try:
        async with closing(stream) as chunks:
            async for chunk in chunks:
                if chunk.text:
                    text.append(chunk.text)
                    pending_text.append(chunk.text)
                if chunk.reasoning:
                    pending_reason.append(chunk.reasoning)
                now = time.monotonic()
                if (pending_text or pending_reason) and now - last >= min_interval:
                    delta = ReplyChunk("".join(pending_text), "".join(pending_reason))
                    pending_text.clear()
                    pending_reason.clear()
                    last = now
                    await sink.update("".join(text), delta)
        if pending_text or pending_reason:
            delta = ReplyChunk("".join(pending_text), "".join(pending_reason))
            await sink.update("".join(text), delta)
    finally:
        await asyncio.shield(sink.finish("".join(text)))
    return "".join(text)


def split_text(text: str, max_chars: int) -> list[str]:
    """Split ``text`` into pieces of at most ``max_chars``, preferring line and
    sentence ends."""
    pieces: list[str] = []
    rest = text
    while len(rest) > max_chars:
        window = rest[:max_chars]
        cut = window.rfind("\n")
        if cut < max_chars // 2:
            ends = [m.start() for m in _SENTENCE_END.finditer(window)]
            best = ends[-1] if ends else -1
            cut = best if best >= max_chars // 2 else max_chars - 1
        pieces.append(rest[: cut + 1].rstrip())
        rest = rest[cut + 1 :].lstrip("\n")
    if rest.strip():
        pieces.append(rest.rstrip())
    return [p for p in pieces if p.strip()]


class SegmentSplitter:
    """Cuts a growing text into finished paragraphs, never inside a code fence."""

    def __init__(self) -> None:
        self._buf = ""

    def feed(self, text: str) -> list[str]:
        self._buf += text
        out: list[str] = []
        while True:
            cut = self._boundary()
            if cut < 0:
                return out
            segment, self._buf = (
                self._buf[:cut].strip("\n"),
                self._buf[cut:].lstrip("\n"),
            )
            if segment.strip():
                out.append(segment)

    def _boundary(self) -> int:
        """Index just after the first paragraph break outside a code fence, or -1."""
        pos = 0
        in_fence = False
        while True:
            nl = self._buf.find("\n", pos)
            if nl < 0:
                return -1
            line = self._buf[pos:nl]
            if line.lstrip().startswith("```"):
                in_fence = not in_fence
            elif not in_fence and not line.strip() and pos > 0:
                return nl + 1
            pos = nl + 1

    def flush(self) -> str:
        rest, self._buf = self._buf.strip("\n"), ""
        return rest


async def deliver_segments(
    stream: AsyncIterator[ReplyChunk],
    send: SendText,
    *,
    min_interval: float = 1.0,
    max_messages: int = 5,
    max_chars: int = 2000,
) -> str:
    """Send each finished paragraph as its own message; return the full text."""
    splitter = SegmentSplitter()
    full: list[str] = []
    ready: list[str] = []
    sent = 0
    last = -min_interval

    async def send_ready(final: bool) -> None:
        nonlocal sent, last
        while ready:
            if sent >= max_messages - 1 and not final:
                return  # keep merging into the last message
            if sent >= max_messages - 1:
                pieces = split_text("\n\n".join(ready), max_chars)
                ready.clear()
            else:
                pieces = split_text(ready.pop(0), max_chars)
            for piece in pieces:
                wait = last + min_interval - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                await send(piece)
                last = time.monotonic()
                sent += 1

    async with closing(stream) as chunks:
        async for chunk in chunks:
            if not chunk.text:
                continue
            full.append(chunk.text)
            ready.extend(splitter.feed(chunk.text))
            if ready and time.monotonic() - last >= min_interval:
                await send_ready(final=False)
    tail = splitter.flush()
    if tail.strip():
        ready.append(tail)
    await send_ready(final=True)
    return "".join(full)


async def deliver_whole(
    stream: AsyncIterator[ReplyChunk], send: SendText, *, max_chars: int = 2000
) -> str:
    """Collect the whole answer, then send it (split at ``max_chars``)."""
    async with closing(stream) as chunks:
        text = "".join([chunk.text async for chunk in chunks])
    for piece in split_text(text, max_chars):
        await send(piece)
    return text


async def deliver_configured(
    stream: AsyncIterator[ReplyChunk], send: SendText, config: Any, prefix: str
) -> str:
    """Segments or whole, as an adapter's settings say: ``<prefix>_delivery``,
    ``_min_interval``, ``_max_messages`` and ``_max_chars`` (QQ, WeChat, iLink)."""

    def get(name: str) -> Any:
        return getattr(config, f"{prefix}_{name}")

    if get("delivery") == "whole":
        return await deliver_whole(stream, send, max_chars=get("max_chars"))
    return await deliver_segments(
        stream,
        send,
        min_interval=get("min_interval"),
        max_messages=get("max_messages"),
        max_chars=get("max_chars"),
    )


async def collect(stream: AsyncIterator[ReplyChunk]) -> tuple[str, str]:
    """The whole answer and reasoning text of ``stream``."""
    text: list[str] = []
    reasoning: list[str] = []
    async with closing(stream) as chunks:
        async for chunk in chunks:
            text.append(chunk.text)
            reasoning.append(chunk.reasoning)
    return "".join(text), "".join(reasoning)
