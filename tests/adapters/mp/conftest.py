"""Fixtures of the Official Account adapter tests: the fake WeChat API, scripted
model, bot instances on loopback, memory or Redis shared state."""

from __future__ import annotations

import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from fake_wechat import Account, FakeWeChatAPI
from mp_harness import BotInstance, ChatStub, ScriptedLLM

from adapters.mp import Adapter
from bot.state import MemoryState, StateStore
from bot.state.redis import RedisState

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
async def wechat_api() -> AsyncIterator[FakeWeChatAPI]:
    api = await FakeWeChatAPI({Account().app_id: Account().app_secret}).start()
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
    prefix = f"test-mp-{uuid.uuid4().hex[:8]}:"
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
    wechat_api: FakeWeChatAPI, chat: ChatStub
) -> AsyncIterator[MakeInstance]:
    instances: list[BotInstance] = []

    async def make(
        account: Account | None = None,
        state: StateStore | None = None,
        **config: Any,
    ) -> BotInstance:
        account = account or Account()
        full = {
            "mp_accounts": [account.config()],
            "mp_api_base": wechat_api.base_url,
            **config,
        }
        instance = BotInstance(Adapter, full, state or MemoryState())
        instances.append(instance)
        return await instance.start()

    yield make
    for instance in instances:
        await instance.stop()
