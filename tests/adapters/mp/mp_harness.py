"""Runs adapters the way the app does, on loopback, for adapter tests.

``BotInstance`` builds a NoneBot driver of its own (FastAPI + httpx + websockets, the
app's combination), registers one adapter with the given config and shared state,
and serves it with uvicorn on a free port. ``ChatStub`` is a NoneBot matcher doing
what the ``chat`` plugin does (platform context factory, the model, the platform's
delivery), with a scripted model that counts its calls.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from nonebot.adapters import Adapter, Bot, Event
from nonebot.config import Config as NoneBotConfig
from nonebot.config import Env
from nonebot.drivers import combine_driver
from nonebot.drivers.fastapi import Driver as FastAPIDriver
from nonebot.drivers.httpx import Mixin as HTTPXMixin
from nonebot.drivers.websockets import Mixin as WebSocketsMixin
from nonebot.matcher import Matcher

from bot.context import ChatContext, ReplyChunk
from bot.platform import get_platform
from bot.state import StateStore

DriverClass = combine_driver(FastAPIDriver, HTTPXMixin, WebSocketsMixin)


@dataclass
class ScriptedLLM:
    """A model that answers ``text`` in ``chunks`` pieces over ``delay`` seconds."""

    text: str = "你好，这是回答。"
    delay: float = 0.0
    chunks: int = 4
    #: raise after this many chunks (a model that fails mid-answer)
    fail_after: int | None = None
    calls: list[str] = field(default_factory=list)
    finished: int = 0

    async def stream(self, ctx: ChatContext) -> AsyncIterator[ReplyChunk]:
        self.calls.append(ctx.text)
        step = max(1, len(self.text) // self.chunks)
        pieces = [self.text[i : i + step] for i in range(0, len(self.text), step)]
        for n, piece in enumerate(pieces):
            if self.fail_after is not None and n >= self.fail_after:
                raise RuntimeError("scripted model failure")
            if self.delay:
                await asyncio.sleep(self.delay / len(pieces))
            yield ReplyChunk(text=piece)
        self.finished += 1


class ChatStub:
    """Stands in for the ``chat`` plugin: same lookup, same delivery call."""

    def __init__(self, llm: ScriptedLLM) -> None:
        self.llm = llm
        self.contexts: list[ChatContext] = []
        self.errors: list[BaseException] = []

        async def handle(bot: Bot, event: Event) -> None:
            platform = get_platform(bot.adapter.get_name())
            assert platform is not None
            ctx = await platform.context_factory(bot, event)
            if ctx is None:
                return
            self.contexts.append(ctx)
            ctx.reply = self.llm.stream(ctx)
            try:
                await platform.deliver(bot, event, ctx)
            except BaseException as exc:
                self.errors.append(exc)
                raise

        self.matcher = Matcher.new("message", priority=1, block=True, handlers=[handle])

    def close(self) -> None:
        self.matcher.destroy()


def _bind() -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


class BotInstance:
    """One bot process's worth of NoneBot, in this process."""

    def __init__(
        self,
        adapter: type[Adapter],
        config: dict[str, Any],
        state: StateStore,
    ) -> None:
        self.driver = DriverClass(Env(environment="prod"), NoneBotConfig(**config))
        # built directly: Driver.register_adapter keeps adapters in a class-level
        # dict, so a second instance in one process would be skipped
        self.adapter = adapter(self.driver, state=state)
        self._sock = _bind()
        self.port = int(self._sock.getsockname()[1])
        self.base_url = f"http://127.0.0.1:{self.port}"
        server_config = uvicorn.Config(
            self.driver.server_app, lifespan="on", log_level="warning"
        )
        self.server = uvicorn.Server(server_config)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> BotInstance:
        self._task = asyncio.create_task(self.server.serve(sockets=[self._sock]))
        deadline = time.monotonic() + 10
        while not self.server.started:
            if self._task.done() or time.monotonic() > deadline:
                raise RuntimeError("bot instance did not start")
            await asyncio.sleep(0.02)
        return self

    async def stop(self) -> None:
        self.server.should_exit = True
        if self._task is not None:
            await asyncio.wait_for(self._task, 15)
        self._sock.close()
