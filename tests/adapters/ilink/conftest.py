"""Fixtures of the iLink adapter tests: the fake iLink server, a SQLite store, the
shared adapter harness (from ../qq)."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest


def _load_harness() -> Any:
    name = "adapter_harness"
    if name not in sys.modules:
        path = Path(__file__).resolve().parent.parent / "qq" / f"{name}.py"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


harness = _load_harness()


@pytest.fixture
async def answerer() -> AsyncIterator[Any]:
    answerer = harness.install_answerer()
    yield answerer
    answerer.matcher.destroy()


@pytest.fixture
async def serve() -> AsyncIterator[Callable[..., Awaitable[Any]]]:
    served: list[Any] = []

    async def start(adapter_class: type[Any], config: dict[str, Any]) -> Any:
        s = await harness.serve_adapter(adapter_class, config)
        served.append(s)
        return s

    yield start
    for s in served:
        await s.stop()


@pytest.fixture
async def fake() -> AsyncIterator[Any]:
    from fake_ilink import FakeILink

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
