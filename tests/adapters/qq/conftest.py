"""Fixtures of the QQ adapter tests: a served adapter, the answering matcher, a
runtime whose shared state is memory or a real Redis."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from adapter_harness import Answerer, Served, install_answerer, serve_adapter

from bot.llm import LLMClient
from bot.registry import StaticRegistry
from bot.runtime import Runtime, get_runtime, has_runtime, set_runtime
from bot.settings import Settings
from bot.state import MemoryState
from bot.state.redis import RedisState

REDIS_URL = os.environ.get("FREECHAT_TEST_REDIS", "redis://127.0.0.1:6379/0")


@pytest.fixture
async def answerer() -> AsyncIterator[Answerer]:
    answerer = install_answerer()
    yield answerer
    assert answerer.matcher is not None
    answerer.matcher.destroy()


@pytest.fixture
async def serve() -> AsyncIterator[Callable[..., Awaitable[Served]]]:
    served: list[Served] = []

    async def start(adapter_class: type[Any], config: dict[str, Any]) -> Served:
        s = await serve_adapter(adapter_class, config)
        served.append(s)
        return s

    yield start
    for s in served:
        await s.stop()


async def _runtime(state_url: str) -> AsyncIterator[Runtime]:
    previous = get_runtime() if has_runtime() else None
    settings = Settings()
    registry = StaticRegistry([])
    state = (
        RedisState(state_url, prefix=f"freechat-test-{uuid.uuid4().hex[:8]}:")
        if state_url.startswith("redis")
        else MemoryState()
    )
    runtime = Runtime(
        settings=settings,
        state=state,
        llm=LLMClient(registry, settings.llm),
        registry=registry,
    )
    set_runtime(runtime)
    yield runtime
    set_runtime(previous)
    await runtime.llm.close()
    await state.close()


@pytest.fixture
async def memory_runtime() -> AsyncIterator[Runtime]:
    async for rt in _runtime("memory://"):
        yield rt


@pytest.fixture
async def redis_runtime() -> AsyncIterator[Runtime]:
    async for rt in _runtime(REDIS_URL):
        yield rt
