"""Fixtures of the QQ adapter tests: a served adapter, the answering matcher, a
runtime whose shared state is memory or a real Redis."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import pytest

from bot.llm import LLMClient
from bot.registry import StaticRegistry
from bot.runtime import Runtime, get_runtime, has_runtime, set_runtime
from bot.settings import Settings
from bot.state import MemoryState
from bot.state.redis import RedisState
from tests.adapters.qq.adapter_harness import answerer, serve

__all__ = ["answerer", "serve"]

REDIS_URL = os.environ.get("FREECHAT_TEST_REDIS", "redis://127.0.0.1:6379/0")


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
