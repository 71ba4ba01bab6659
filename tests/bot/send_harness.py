"""A runtime on memory state for tests of proactive sends (``bot.send`` counts its
rate limits in the runtime's state). Import ``send_runtime`` into a test module to
use it as a fixture."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.llm import LLMClient
from bot.registry import StaticRegistry
from bot.runtime import Runtime, get_runtime, has_runtime, set_runtime
from bot.settings import Settings
from bot.state import MemoryState


@pytest.fixture
async def send_runtime() -> AsyncIterator[Runtime]:
    previous = get_runtime() if has_runtime() else None
    settings = Settings()
    registry = StaticRegistry([])
    rt = Runtime(settings, MemoryState(), LLMClient(registry, settings.llm), registry)
    set_runtime(rt)
    yield rt
    set_runtime(previous)
    await rt.llm.close()
