"""Delivery strategies: stream coalescing, paragraph segments, whole answers."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator

from bot.context import ReplyChunk
from bot.delivery import (
    SegmentSplitter,
    deliver_segments,
    deliver_stream,
    deliver_whole,
    split_text,
)


async def chunks(*parts: str, delay: float = 0.0) -> AsyncIterator[ReplyChunk]:
    for part in parts:
        if delay:
            await asyncio.sleep(delay)
        yield ReplyChunk(part)


class Sink:
    def __init__(self) -> None:
        self.updates: list[tuple[str, str]] = []
        self.finished: str | None = None

    async def update(self, text: str, delta: ReplyChunk) -> None:
        self.updates.append((text, delta.text))

    async def finish(self, text: str) -> None:
        self.finished = text


async def test_stream_forwards_every_delta() -> None:
    sink = Sink()
    full = await deliver_stream(chunks("a", "b", "c"), sink)
    assert full == "abc"
    assert sink.updates == [("a", "a"), ("ab", "b"), ("abc", "c")]
    assert sink.finished == "abc"


async def test_stream_coalesces_for_slow_platforms() -> None:
    sink = Sink()
    await deliver_stream(chunks(*"abcdefgh"), sink, min_interval=10)
    # the first update goes at once, the rest is merged into the final one
    assert [d for _, d in sink.updates] == ["a", "bcdefgh"]
    assert sink.updates[-1][0] == "abcdefgh"


async def test_stream_finishes_on_cancel() -> None:
    sink = Sink()
    task = asyncio.create_task(deliver_stream(chunks(*"abcdef", delay=0.05), sink))
    await asyncio.sleep(0.12)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert sink.finished is not None
    assert sink.finished.startswith("a")


def test_segment_splitter_keeps_code_blocks_whole() -> None:
    s = SegmentSplitter()
    out = s.feed("First paragraph.\n\n```py\nx = 1\n\ny = 2\n```\n\nLast")
    assert out == ["First paragraph.", "```py\nx = 1\n\ny = 2\n```"]
    assert s.flush() == "Last"


async def test_segments_sent_as_paragraphs_finish() -> None:
    sent: list[tuple[float, str]] = []

    async def send(text: str) -> None:
        sent.append((time.monotonic(), text))

    text = "One.\n\nTwo.\n\nThree."
    full = await deliver_segments(
        chunks(*[text[i : i + 2] for i in range(0, len(text), 2)]),
        send,
        min_interval=0.05,
    )
    assert full == text
    assert [t for _, t in sent] == ["One.", "Two.", "Three."]
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(sent)]
    assert all(g >= 0.045 for g in gaps)


async def test_segments_cap_merges_the_rest() -> None:
    sent: list[str] = []

    async def send(text: str) -> None:
        sent.append(text)

    paras = "\n\n".join(f"P{i}." for i in range(6))
    await deliver_segments(chunks(paras), send, min_interval=0, max_messages=3)
    assert sent == ["P0.", "P1.", "P2.\n\nP3.\n\nP4.\n\nP5."]


async def test_whole_splits_at_limit() -> None:
    sent: list[str] = []

    async def send(text: str) -> None:
        sent.append(text)

    text = "。".join(["句子" * 5] * 10)
    await deliver_whole(chunks(text), send, max_chars=30)
    assert all(len(p) <= 30 for p in sent)
    assert "".join(sent).replace("\n", "") == text


def test_split_text_prefers_sentence_ends() -> None:
    pieces = split_text("Hello world. " * 10, 40)
    assert all(len(p) <= 40 for p in pieces)
    assert all(p.endswith(".") for p in pieces)
