"""Fixtures of the WeCom adapter tests: the fake long-connection server and API,
scripted model and bot instances on loopback (the harness is shared with the
Official Account tests)."""

from __future__ import annotations

import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "mp"))

from fake_server import FakeLongConnServer, FakeWeComAPI  # noqa: E402
from mp_harness import BotInstance, ChatStub, ScriptedLLM  # noqa: E402
from wecom_setup import APP_SECRET, BOT_ID, BOT_SECRET, CORP_ID  # noqa: E402

from adapters.wecom import Adapter  # noqa: E402
from bot.state import MemoryState, StateStore  # noqa: E402
from bot.state.redis import RedisState  # noqa: E402

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
async def ws_server() -> AsyncIterator[FakeLongConnServer]:
    server = await FakeLongConnServer({BOT_ID: BOT_SECRET}).start()
    yield server
    await server.stop()


@pytest.fixture
async def wecom_api() -> AsyncIterator[FakeWeComAPI]:
    api = await FakeWeComAPI({CORP_ID: APP_SECRET}).start()
    yield api
    await api.stop()


@pytest.fixture
def llm() -> ScriptedLLM:
    return ScriptedLLM()


@pytest.fixture
def chat(llm: ScriptedLLM) -> Any:
    stub = ChatStub(llm)
    yield stub
    stub.close()


@pytest.fixture
async def redis_states() -> AsyncIterator[Callable[[], StateStore]]:
    """Factory of Redis states sharing one unique prefix (one "deployment")."""
    prefix = f"test-wecom-{uuid.uuid4().hex[:8]}:"
    opened: list[RedisState] = []

    def make() -> StateStore:
        state = RedisState(REDIS_URL, prefix=prefix)
        opened.append(state)
        return state

    yield make
    for state in opened:
        await state.close()


MakeInstance = Callable[..., Awaitable[BotInstance]]


@pytest.fixture
async def make_instance(
    ws_server: FakeLongConnServer, wecom_api: FakeWeComAPI, chat: ChatStub
) -> AsyncIterator[MakeInstance]:
    instances: list[BotInstance] = []

    async def make(state: StateStore | None = None, **config: Any) -> BotInstance:
        full = {
            "wecom_ws_url": ws_server.url,
            "wecom_api_base": wecom_api.base_url,
            "wecom_stream_interval": 0.05,
            **config,
        }
        instance = BotInstance(Adapter, full, state or MemoryState())
        instances.append(instance)
        return await instance.start()

    yield make
    for instance in instances:
        await instance.stop()
