"""A real HTTP server on loopback that answers ``POST /v1/tokenize`` like the
FreeChat inference service: one token per character, 3 per message."""

from __future__ import annotations

import socket
from typing import Any

from aiohttp import web


def count_messages(messages: list[dict[str, str]]) -> int:
    return sum(len(m["content"]) + 3 for m in messages)


class TokenizeServer:
    def __init__(self, *, status: int = 200) -> None:
        self.status = status
        self.calls: list[dict[str, Any]] = []
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def _tokenize(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.calls.append(body)
        if self.status != 200:
            return web.json_response({"error": "no"}, status=self.status)
        if body.get("messages") is not None:
            return web.json_response({"count": count_messages(body["messages"])})
        return web.json_response({"count": len(body["text"])})

    async def start(self) -> TokenizeServer:
        app = web.Application()
        app.router.add_post("/v1/tokenize", self._tokenize)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        site = web.SockSite(self._runner, sock)
        await site.start()
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
