"""Fixtures of the WeChat adapter tests (the harness is shared with the QQ tests)."""

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
