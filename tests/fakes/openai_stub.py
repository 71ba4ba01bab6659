"""A real OpenAI-style streaming HTTP server on loopback, for tests and benchmarks.

It runs in its own thread with its own event loop, so it answers no matter what the
test's loop is doing. Script the next answers with :meth:`OpenAIStub.script`.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Script:
    text: str = "Hello from the stub."
    reasoning: str = ""
    #: seconds before each chunk (the first one too)
    delay: float = 0.0
    #: characters per chunk
    chunk_chars: int = 3
    #: answer with this HTTP status instead of streaming
    status: int = 200
    #: stop after this many chunks without finishing (a dead upstream)
    hang_after: int | None = None
    usage: bool = True


@dataclass
class StubState:
    scripts: list[Script] = field(default_factory=list)
    default: Script = field(default_factory=Script)
    requests: list[dict[str, Any]] = field(default_factory=list)
    open_streams: int = 0
    disconnects: int = 0
    completed: int = 0


class OpenAIStub:
    def __init__(self, max_requests: int | None = None) -> None:
        #: requests kept for inspection (None: all; a long benchmark keeps few)
        self.max_requests = max_requests
        self.state = StubState()
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self.port = 0
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    # -- control ---------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def requests(self) -> list[dict[str, Any]]:
        return self.state.requests

    @property
    def disconnects(self) -> int:
        return self.state.disconnects

    @property
    def open_streams(self) -> int:
        return self.state.open_streams

    def script(self, text: str = "Hello from the stub.", **kwargs: Any) -> Script:
        """Queue one answer; when the queue is empty the default answers."""
        s = Script(text=text, **kwargs)
        self.state.scripts.append(s)
        return s

    def set_default(self, text: str = "Hello from the stub.", **kwargs: Any) -> None:
        self.state.default = Script(text=text, **kwargs)

    def reset(self) -> None:
        self.state = StubState()

    def wait_for(self, cond: Callable[[], bool], timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if cond():
                return True
            time.sleep(0.02)
        return cond()

    # -- server ----------------------------------------------------------------------

    def start(self) -> OpenAIStub:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_get("/v1/models", self._models)
        self._runner = web.AppRunner(
            app, access_log=None, handler_cancellation=True, shutdown_timeout=1.0
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(
                10
            )
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    async def _models(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"object": "list", "data": [{"id": "stub-model", "object": "model"}]}
        )

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        st = self.state  # a reset during this request must not skew the new counters
        body = await request.json()
        st.requests.append(body)
        if self.max_requests is not None and len(st.requests) > self.max_requests:
            del st.requests[: len(st.requests) - self.max_requests]
        s = st.scripts.pop(0) if st.scripts else st.default
        if s.status != 200:
            return web.json_response(
                {"error": {"message": "scripted failure", "type": "server_error"}},
                status=s.status,
            )
        pieces = [
            s.text[i : i + s.chunk_chars] for i in range(0, len(s.text), s.chunk_chars)
        ]
        if not body.get("stream"):
            await asyncio.sleep(s.delay * len(pieces))
            st.completed += 1
            return web.json_response(
                {
                    "id": "chatcmpl-stub",
                    "object": "chat.completion",
                    "model": body.get("model", "stub-model"),
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": s.text},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": _usage(body, s.text),
                }
            )
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        st.open_streams += 1
        try:
            if s.reasoning:
                await self._send(resp, {"reasoning_content": s.reasoning})
            for n, piece in enumerate(pieces):
                if s.hang_after is not None and n >= s.hang_after:
                    await asyncio.sleep(3600)
                if s.delay:
                    await asyncio.sleep(s.delay)
                await self._send(resp, {"content": piece})
            await self._send(resp, {}, finish="stop")
            if s.usage and (body.get("stream_options") or {}).get("include_usage"):
                await resp.write(
                    b"data: "
                    + json.dumps(
                        {"choices": [], "usage": _usage(body, s.text)}
                    ).encode()
                    + b"\n\n"
                )
            await resp.write(b"data: [DONE]\n\n")
            st.completed += 1
        except (ConnectionResetError, asyncio.CancelledError):
            st.disconnects += 1
            raise
        finally:
            st.open_streams -= 1
        return resp

    @staticmethod
    async def _send(
        resp: web.StreamResponse, delta: dict[str, Any], finish: str | None = None
    ) -> None:
        chunk = {
            "id": "chatcmpl-stub",
            "object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        await resp.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")


def _usage(body: dict[str, Any], text: str) -> dict[str, int]:
    prompt = sum(len(str(m.get("content", ""))) for m in body.get("messages", []))
    return {
        "prompt_tokens": prompt,
        "completion_tokens": len(text),
        "total_tokens": prompt + len(text),
    }
