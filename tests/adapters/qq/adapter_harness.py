"""Serve one FreeChat adapter on a real loopback port, in the test's event loop.

Each server gets its own NoneBot driver (FastAPI + httpx + websockets) with its own
config, run by uvicorn with lifespan, so adapter start-up and shutdown hooks run for
real. An answering matcher plays the chat plugin's part: it builds the context with
the adapter's registered platform, answers ``echo: <text>`` and delivers it the
platform's way. Shared by the QQ, WeChat and iLink adapter tests.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import uvicorn
from nonebot import on_message
from nonebot.adapters import Bot, Event
from nonebot.config import Config as NoneBotConfig
from nonebot.config import Env
from nonebot.drivers import combine_driver
from nonebot.drivers.fastapi import Driver as FastAPIDriver
from nonebot.drivers.httpx import Mixin as HTTPXMixin
from nonebot.drivers.websockets import Mixin as WebSocketsMixin
from nonebot.matcher import Matcher
from nonebot.rule import Rule

from bot.context import ChatContext, ReplyChunk
from bot.platform import get_platform

DriverClass = combine_driver(FastAPIDriver, HTTPXMixin, WebSocketsMixin)
#: uvicorn's WebSocket implementation, as in production ("auto"); overridable to compare
WS_IMPL = os.environ.get("FC_WS_IMPL", "auto")
OUR_ADAPTERS = {"OneBot V11", "OneBot V12", "iLink"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _answer_stream(text: str, delay: float) -> Any:
    if delay:
        await asyncio.sleep(delay)
    yield ReplyChunk(text=text)


@dataclass
class Answerer:
    """What the answering matcher saw and how it answers."""

    contexts: list[ChatContext] = field(default_factory=list)
    delay: float = 0.0
    answer: Callable[[ChatContext], str] = lambda ctx: f"echo: {ctx.text}"
    matcher: type[Matcher] | None = None

    async def handle(self, bot: Bot, event: Event) -> None:
        platform = get_platform(bot.adapter.get_name())
        if platform is None:
            return
        ctx = await platform.context_factory(bot, event)
        if ctx is None:
            return
        self.contexts.append(ctx)
        ctx.reply = _answer_stream(self.answer(ctx), self.delay)
        await platform.deliver(bot, event, ctx)


def install_answerer() -> Answerer:
    """Register the answering matcher (only for our adapters); ``destroy`` after."""
    answerer = Answerer()

    async def ours(bot: Bot) -> bool:
        return bot.adapter.get_name() in OUR_ADAPTERS

    matcher = on_message(rule=Rule(ours), priority=1, block=True)
    matcher.handle()(answerer.handle)
    answerer.matcher = matcher
    return answerer


@dataclass
class Served:
    driver: Any
    adapter: Any
    port: int
    server: uvicorn.Server
    task: asyncio.Task[None]

    @property
    def ws_base(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def http_base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def stop(self) -> None:
        self.server.should_exit = True
        await asyncio.wait_for(self.task, 15)


async def serve_adapter(
    adapter_class: type[Any], config: dict[str, Any], *, host: str = "127.0.0.1"
) -> Served:
    """Start ``adapter_class`` with ``config`` (NoneBot keys) on a free port."""
    port = free_port()
    driver = DriverClass(
        Env(environment="prod"),
        NoneBotConfig(_env_file=None, host=host, port=port, **config),  # type: ignore[call-arg]
    )
    # instantiated directly: Driver._adapters is shared by every driver (ClassVar)
    adapter = adapter_class(driver)
    server = uvicorn.Server(
        uvicorn.Config(
            driver.asgi,
            host="127.0.0.1",
            port=port,
            log_config=None,
            access_log=False,
            lifespan="on",
            ws_max_size=1 << 20,
            ws=WS_IMPL,
        )
    )
    task = asyncio.create_task(server.serve())
    for _ in range(200):
        if server.started:
            break
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    else:
        raise RuntimeError("uvicorn did not start")
    return Served(driver, adapter, port, server, task)


async def eventually(
    check: Callable[[], bool | Awaitable[bool]], timeout: float = 10.0
) -> None:
    """Wait until ``check()`` is true (generous: the machine is shared)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = check()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


@pytest.fixture
async def answerer() -> AsyncIterator[Answerer]:
    """The answering matcher, removed after the test."""
    answerer = install_answerer()
    yield answerer
    assert answerer.matcher is not None
    answerer.matcher.destroy()


@pytest.fixture
async def serve() -> AsyncIterator[Callable[..., Awaitable[Served]]]:
    """Factory: ``await serve(Adapter, config)``; every server is stopped after."""
    served: list[Served] = []

    async def start(adapter_class: type[Any], config: dict[str, Any]) -> Served:
        s = await serve_adapter(adapter_class, config)
        served.append(s)
        return s

    yield start
    for s in served:
        await s.stop()
