"""Connect-then-disconnect cycles leave no rows, fds or tasks behind."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable

import httpx

from tests.inference.inference_helpers import LiveServer


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def settle(check: Callable[[], bool], within: float = 20.0) -> None:
    for _ in range(int(within / 0.02)):
        if check():
            return
        await asyncio.sleep(0.02)


async def raw_disconnect(live: LiveServer, stream: bool) -> None:
    """Send a request on a bare socket and hang up without reading the answer."""
    payload = json.dumps(
        {
            "messages": [{"role": "user", "content": "走开"}],
            "stream": stream,
            "max_tokens": 2000,
        }
    ).encode()
    reader, writer = await asyncio.open_connection("127.0.0.1", live.port)
    writer.write(
        b"POST /v1/chat/completions HTTP/1.1\r\nhost: test\r\n"
        b"content-type: application/json\r\n"
        + f"content-length: {len(payload)}\r\n\r\n".encode()
        + payload
    )
    await writer.drain()
    if stream:
        await reader.readuntil(b"\n\n")  # the first SSE event: the row is running
    writer.close()
    await writer.wait_closed()


async def test_hundred_disconnect_cycles_return_to_baseline(live: LiveServer) -> None:
    engine = live.app.state.service.engine
    await settle(lambda: engine.running == 0 and not engine.live)
    fds, tasks = open_fds(), live.task_count()
    payload = {
        "messages": [{"role": "user", "content": "讲一个很长的故事"}],
        "stream": True,
        "max_tokens": 2000,
    }
    async with httpx.AsyncClient(base_url=live.url) as http:
        for _ in range(40):
            async with http.stream("POST", "/v1/chat/completions", json=payload) as r:
                async for line in r.aiter_lines():
                    if '"content":"' in line and '"content":""' not in line:
                        break  # a token arrived; hang up mid-stream
    for cycle in range(60):
        await raw_disconnect(live, stream=cycle % 2 == 0)

    def at_baseline() -> bool:
        return (
            engine.running == 0
            and engine.queued == 0
            and not engine.live
            and open_fds() == fds
            and live.task_count() == tasks
        )

    await settle(at_baseline)
    assert engine.running == 0
    assert engine.queued == 0
    assert not engine.live
    assert open_fds() == fds
    assert live.task_count() == tasks
    assert engine.requests_total >= 100
