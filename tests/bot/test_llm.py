"""The LLM client against a real streaming server on loopback."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bot.context import ReplyChunk
from bot.exceptions import (
    LLMBadResponse,
    LLMNotResponding,
    LLMTimeout,
    LLMUnavailable,
)
from bot.llm import LLMClient, StreamInfo, ThinkSplitter
from bot.registry import Endpoint, StaticRegistry
from bot.settings import LLMSettings
from tests.conftest import free_port
from tests.fakes.openai_stub import OpenAIStub


def client(*urls: str, **overrides) -> LLMClient:
    settings = LLMSettings(model="stub-model", **overrides)
    return LLMClient(StaticRegistry([Endpoint(u) for u in urls]), settings)


async def drain(llm: LLMClient, info: StreamInfo | None = None) -> list[ReplyChunk]:
    return [c async for c in llm.stream([{"role": "user", "content": "hi"}], info=info)]


async def test_streams_text_and_usage(openai_stub: OpenAIStub) -> None:
    openai_stub.script("Hello there, world.", reasoning="thinking...")
    llm = client(openai_stub.base_url)
    info = StreamInfo()
    chunks = await drain(llm, info)
    await llm.close()
    assert "".join(c.text for c in chunks) == "Hello there, world."
    assert "".join(c.reasoning for c in chunks) == "thinking..."
    assert len(chunks) > 3
    assert info.usage.completion_tokens == len("Hello there, world.")
    assert info.finish_reason == "stop"
    assert info.ttft is not None
    assert openai_stub.requests[0]["stream_options"] == {"include_usage": True}


async def test_think_tags_become_reasoning(openai_stub: OpenAIStub) -> None:
    openai_stub.script("<think>hmm, let me see</think>The answer is 4.", chunk_chars=2)
    llm = client(openai_stub.base_url)
    chunks = await drain(llm)
    await llm.close()
    assert "".join(c.text for c in chunks) == "The answer is 4."
    assert "".join(c.reasoning for c in chunks) == "hmm, let me see"


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7])
def test_think_splitter_any_chunking(size: int) -> None:
    text = "a<think>b<c</think>d<thin"
    s = ThinkSplitter()
    out = [s.feed(text[i : i + size]) for i in range(0, len(text), size)]
    out.append(s.flush())
    assert "".join(c.text for c in out) == "ad<thin"
    assert "".join(c.reasoning for c in out) == "b<c"


async def test_fails_over_before_first_token(openai_stub: OpenAIStub) -> None:
    dead = f"http://127.0.0.1:{free_port()}/v1"
    openai_stub.script("from the live one")
    llm = client(dead, openai_stub.base_url)
    chunks = await drain(llm)
    assert "".join(c.text for c in chunks) == "from the live one"
    await llm.close()


async def test_circuit_opens_after_failures(openai_stub: OpenAIStub) -> None:
    for _ in range(3):
        openai_stub.script(status=503)
    llm = client(openai_stub.base_url, circuit_failures=3, circuit_reset=60)
    for _ in range(3):
        with pytest.raises(LLMUnavailable):
            await drain(llm)
    assert llm.circuit_open()
    await llm.close()


async def test_client_errors_are_not_retried(openai_stub: OpenAIStub) -> None:
    openai_stub.script(status=400)
    llm = client(openai_stub.base_url)
    with pytest.raises(LLMBadResponse):
        await drain(llm)
    assert len(openai_stub.requests) == 1
    await llm.close()


async def test_first_token_timeout(openai_stub: OpenAIStub) -> None:
    openai_stub.script("never", hang_after=0)
    llm = client(openai_stub.base_url, first_token_timeout=0.5)
    with pytest.raises(LLMTimeout):
        await drain(llm)
    await llm.close()
    assert openai_stub.wait_for(lambda: openai_stub.open_streams == 0, 5)


async def test_stall_mid_answer_times_out(openai_stub: OpenAIStub) -> None:
    openai_stub.script("abcdefghijkl", hang_after=2)
    llm = client(openai_stub.base_url, idle_timeout=0.5)
    got: list[str] = []

    async def consume() -> None:
        async for chunk in llm.stream([{"role": "user", "content": "x"}]):
            got.append(chunk.text)

    with pytest.raises(LLMTimeout):
        await consume()
    assert "".join(got) == "abcdef"
    await llm.close()


async def test_cancel_closes_upstream_quickly(openai_stub: OpenAIStub) -> None:
    openai_stub.script("x" * 300, delay=0.05, chunk_chars=1)
    llm = client(openai_stub.base_url)

    async def consume() -> None:
        async for _ in llm.stream([{"role": "user", "content": "x"}]):
            pass

    task = asyncio.create_task(consume())
    assert await asyncio.to_thread(
        openai_stub.wait_for, lambda: openai_stub.open_streams == 1, 5
    )
    await asyncio.sleep(0.2)
    await stop_and_see_upstream_closed(task, openai_stub)
    await llm.close()


async def stop_and_see_upstream_closed(
    task: asyncio.Task[Any], openai_stub: OpenAIStub
) -> None:
    """Cancel ``task`` (the user's stop); the stub sees its request closed < 1 s."""
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    t0 = asyncio.get_running_loop().time()
    closed = await asyncio.to_thread(
        openai_stub.wait_for, lambda: openai_stub.disconnects == 1, 5
    )
    assert closed
    assert asyncio.get_running_loop().time() - t0 < 1.0


async def test_no_endpoint_is_a_clear_error() -> None:
    llm = client()
    with pytest.raises(LLMUnavailable):
        await drain(llm)
    await llm.close()


async def raw_sse_server(body: bytes, piece: int) -> tuple[asyncio.Server, str]:
    """An HTTP server that sends ``body`` as an SSE answer, ``piece`` bytes per
    network write (so events and lines arrive split anywhere)."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            b"Connection: close\r\n\r\n"
        )
        for i in range(0, len(body), piece):
            writer.write(body[i : i + piece])
            await writer.drain()
            await asyncio.sleep(0)
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}/v1"


@pytest.mark.parametrize("piece", [1, 7, 4096])
async def test_sse_lines_split_anywhere_are_parsed(piece: int) -> None:
    events = [
        b'data: {"choices":[{"delta":{"content":"\xe4\xbd\xa0\xe5\xa5\xbd"}}]}\r\n\r\n',
        b": a comment\n\n",
        b'data: {"choices":[{"delta":{"content":", world"},'
        b'"finish_reason":"stop"}]}\n\n',
        b'data: {"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2}}\n\n',
        b"data: [DONE]\n\n",
    ]
    server, url = await raw_sse_server(b"".join(events), piece)
    llm = client(url)
    info = StreamInfo()
    try:
        chunks = await drain(llm, info)
    finally:
        await llm.close()
        server.close()
    assert "".join(c.text for c in chunks) == "你好, world"
    assert (info.usage.prompt_tokens, info.usage.completion_tokens) == (3, 2)
    assert info.finish_reason == "stop"


async def test_a_line_without_end_is_refused() -> None:
    server, url = await raw_sse_server(b"data: " + b"x" * (3 << 20), 1 << 16)
    llm = client(url)
    try:
        with pytest.raises(LLMBadResponse, match="too long"):
            await drain(llm)
    finally:
        await llm.close()
        server.close()


async def test_an_open_circuit_sends_nothing_but_probes(
    openai_stub: OpenAIStub,
) -> None:
    """One endpoint, circuit open: messages are refused at once without a request,
    except one probe per ``circuit_reset``; the probe's answer closes it."""
    for _ in range(3):
        openai_stub.script(status=503)
    llm = client(openai_stub.base_url, circuit_failures=3, circuit_reset=0.5)
    try:
        for _ in range(3):
            with pytest.raises(LLMUnavailable):
                await drain(llm)
        assert llm.circuit_open()
        for _ in range(5):
            with pytest.raises(LLMNotResponding):
                await drain(llm)
        assert len(openai_stub.requests) == 3  # nothing sent while open
        await asyncio.sleep(0.6)
        openai_stub.script(status=503)  # the first probe fails: open again
        with pytest.raises(LLMUnavailable):
            await drain(llm)
        with pytest.raises(LLMNotResponding):
            await drain(llm)
        assert len(openai_stub.requests) == 4
        await asyncio.sleep(0.6)
        openai_stub.script("back")
        assert "".join(c.text for c in await drain(llm)) == "back"
        assert not llm.circuit_open()
        assert "".join(c.text for c in await drain(llm)) == "Hello from the stub."
    finally:
        await llm.close()


async def test_a_full_endpoint_refuses_at_once(openai_stub: OpenAIStub) -> None:
    openai_stub.set_default("never", hang_after=0)
    llm = client(openai_stub.base_url, max_in_flight_per_endpoint=2)
    hung = [asyncio.create_task(drain(llm)) for _ in range(2)]
    try:
        assert await asyncio.to_thread(
            openai_stub.wait_for, lambda: openai_stub.open_streams == 2, 5
        )
        async with asyncio.timeout(2):
            with pytest.raises(LLMNotResponding):
                await drain(llm)
        assert len(openai_stub.requests) == 2
    finally:
        for task in hung:
            task.cancel()
        await asyncio.gather(*hung, return_exceptions=True)
        await llm.close()


async def test_ping_answers_at_once_while_the_model_hangs() -> None:
    """/ready's model check: a model that accepts and never answers costs it no
    more than half a second; once the check has timed out it says so."""
    conns: list[asyncio.StreamWriter] = []

    async def hang(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conns.append(writer)

    server = await asyncio.start_server(hang, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1"
    llm = client(url)
    loop = asyncio.get_running_loop()
    try:
        t0 = loop.time()
        assert await llm.ping()  # nothing known yet: the circuit is closed
        assert loop.time() - t0 < 1.0
        await asyncio.sleep(3.5)  # the check times out (3 s) meanwhile
        t0 = loop.time()
        assert not await llm.ping()
        assert loop.time() - t0 < 1.0
    finally:
        await llm.close()
        server.close()
        for w in conns:
            w.close()


@pytest.mark.parametrize("style", ["segments", "stream"])
async def test_a_stop_during_a_slow_send_closes_upstream_quickly(
    openai_stub: OpenAIStub, style: str
) -> None:
    """The stop lands while the platform send is slow (not while waiting for the
    next chunk): the upstream model request is still closed within 1 s."""
    from bot.delivery import deliver_segments, deliver_stream

    openai_stub.script("para one\n\npara two\n\n" * 50, delay=0.02, chunk_chars=4)
    llm = client(openai_stub.base_url)
    sending = asyncio.Event()

    async def slow_send(_text: str) -> None:
        sending.set()
        await asyncio.sleep(30)  # the platform hangs on this message

    class SlowSink:
        async def update(self, text: str, delta: ReplyChunk) -> None:
            await slow_send(text)

        async def finish(self, text: str) -> None:
            pass

    stream = llm.stream([{"role": "user", "content": "x"}])
    if style == "segments":
        work = deliver_segments(stream, slow_send, min_interval=0)
    else:
        work = deliver_stream(stream, SlowSink())
    task = asyncio.create_task(work)
    try:
        async with asyncio.timeout(5):
            await sending.wait()
        assert openai_stub.open_streams == 1
        await stop_and_see_upstream_closed(task, openai_stub)
    finally:
        task.cancel()
        await llm.close()


async def test_an_endpoint_that_is_back_gets_its_share_again(
    openai_stub: OpenAIStub,
) -> None:
    """Two endpoints, one failing for a while: once its probe is due a real request
    tries it first, and when it answers its circuit closes (it is not left out
    for as long as the other one answers)."""
    other = OpenAIStub().start()
    llm = client(
        openai_stub.base_url, other.base_url, circuit_failures=1, circuit_reset=0.3
    )
    try:
        openai_stub.script(status=503)
        await drain(llm)  # the first fails (circuit open), the other answers
        assert (len(openai_stub.requests), len(other.requests)) == (1, 1)
        await drain(llm)  # open: not tried
        assert (len(openai_stub.requests), len(other.requests)) == (1, 2)
        await asyncio.sleep(0.4)
        await drain(llm)  # the probe is due: tried first, and it answers
        assert (len(openai_stub.requests), len(other.requests)) == (2, 2)
        openai_stub.script(status=503)  # closed again: one failure reopens it
        await drain(llm)
        assert (len(openai_stub.requests), len(other.requests)) == (3, 3)
    finally:
        await llm.close()
        other.stop()
