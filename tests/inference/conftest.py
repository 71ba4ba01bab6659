"""Fixtures of the inference tests: the loaded demo model, real servers on loopback.

The demo model comes from the session fixture `demo_model_path` of
tests/conftest.py (built once per session). Servers are uvicorn instances on
127.0.0.1 with a free port, each running its own event loop on a thread, so the
tests talk real HTTP (the openai client, httpx, raw sockets) to them.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from inference.config import InferenceConfig
from inference.engine import Engine
from inference.loader import LoadedModel, load_model
from inference.server import create_app
from inference.service import InferenceService
from tests.inference.echo_model import echo_loaded
from tests.inference.inference_helpers import LiveServer, start_server

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def demo_loaded(demo_model_path: Path) -> LoadedModel:
    """The demo model loaded once, shared by every test engine."""
    return load_model(InferenceConfig(model=str(demo_model_path)))


@pytest.fixture
async def engine(demo_loaded: LoadedModel) -> AsyncIterator[Engine]:
    """A running engine over the demo model with the default settings."""
    eng = Engine(demo_loaded, InferenceConfig(model=demo_loaded.source))
    eng.start()
    yield eng
    await eng.stop()


@pytest.fixture(scope="session")
def service(demo_loaded: LoadedModel) -> InferenceService:
    """The service behind the shared server."""
    config = InferenceConfig(
        model=demo_loaded.source,
        max_batch_size=16,
        kv_cache_tokens=16384,
        max_prompt_tokens=1024,
        max_body_bytes=64 * 1024,
    )
    svc = InferenceService(config)
    svc.loaded = demo_loaded
    return svc


@pytest.fixture(scope="session")
def live(service: InferenceService) -> Iterator[LiveServer]:
    """One real server over the demo model for the whole session."""
    server = start_server(create_app(service, manage_lifespan=True))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def echo_live(demo_loaded: LoadedModel) -> Iterator[LiveServer]:
    """A real server over the scripted echo model (answers the last user message)."""
    loaded = echo_loaded(demo_loaded.tokenizer)
    svc = InferenceService(
        InferenceConfig(model="echo", max_prompt_tokens=1024, default_max_tokens=200)
    )
    svc.loaded = loaded
    server = start_server(create_app(svc, manage_lifespan=True))
    yield server
    server.stop()
