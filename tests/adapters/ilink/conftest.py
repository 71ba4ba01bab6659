"""Fixtures of the iLink adapter tests: the fake iLink server, a SQLite store, the
shared adapter harness (from ../qq)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.adapters.qq.adapter_harness import answerer, serve

__all__ = ["answerer", "serve"]


@pytest.fixture
async def fake() -> AsyncIterator[Any]:
    from tests.adapters.ilink.fake_ilink import FakeILink

    server = await FakeILink().start()
    yield server
    await server.stop()


@pytest.fixture
async def store_db(tmp_path: Path) -> AsyncIterator[str]:
    from bot.store import close_store, init_store

    url = f"sqlite://{tmp_path}/ilink.db"
    await init_store(url)
    yield url
    await close_store()


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[Any]:
    """A FreeChat runtime (its settings hold the instance secret the stored token
    is sealed with: a generated ``secret.key`` in the data dir)."""
    from bot.llm import LLMClient
    from bot.registry import StaticRegistry
    from bot.runtime import Runtime, set_runtime
    from bot.settings import Settings
    from bot.state import MemoryState

    settings = Settings(data_dir=str(tmp_path / "data"))
    rt = Runtime(
        settings=settings,
        state=MemoryState(),
        llm=LLMClient(StaticRegistry([]), settings.llm),
        registry=StaticRegistry([]),
    )
    set_runtime(rt)
    yield rt
    set_runtime(None)
    await rt.llm.close()
