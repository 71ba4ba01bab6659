"""Fixtures of the middleware plugin tests: the plugins loaded through NoneBot, a
runtime over a chosen state store, fresh PostgreSQL databases, Redis prefixes.

Plugin packages are imported only after NoneBot is initialised (by nonebug's session
fixture) and through ``nonebot.load_plugin``, exactly as the app loads them, so tests
reach their pure modules through the ``plugins_loaded`` fixture.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import pytest

from bot.llm import LLMClient
from bot.registry import StaticRegistry
from bot.runtime import Runtime, set_runtime
from bot.settings import Settings
from bot.state import MemoryState, StateStore
from bot.state.redis import RedisState

PG_ADMIN = os.environ.get(
    "FREECHAT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("FREECHAT_TEST_REDIS", "redis://127.0.0.1:6379/0")
MINE = ("rate_limit", "sensitive_words", "keywords", "history", "token_budget", "admin")


@pytest.fixture(scope="session")
def plugins_loaded(nonebug_init: None) -> None:
    import nonebot

    for name in MINE:
        if sys.modules.get(f"plugins.{name}") is not None:
            continue  # loaded already (by the app or another test)
        if nonebot.load_plugin(f"plugins.{name}") is None:
            raise RuntimeError(f"plugins.{name} did not load")


async def new_pg_database() -> tuple[str, Callable[[], Awaitable[None]]]:
    """A fresh PostgreSQL database and a coroutine function that drops it."""
    name = f"fc_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(PG_ADMIN)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    base = PG_ADMIN.rsplit("/", 1)[0]

    async def drop() -> None:
        conn = await asyncpg.connect(PG_ADMIN)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    return f"{base}/{name}", drop


@pytest.fixture(params=["sqlite", "postgres"])
async def database(
    request: pytest.FixtureRequest, tmp_path: object
) -> AsyncIterator[str]:
    """The ORM connected to a fresh SQLite file or PostgreSQL database."""
    from bot.store import close_store, init_store

    if request.param == "sqlite":
        url = f"sqlite://{tmp_path}/fc.db"
        drop = None
    else:
        url, drop = await new_pg_database()
    await init_store(url)
    try:
        yield url
    finally:
        await close_store()
        if drop is not None:
            await drop()


@pytest.fixture
async def redis_state() -> AsyncIterator[Callable[[str], RedisState]]:
    """Factory of RedisState clients; clients made with one prefix share state."""
    made: list[RedisState] = []

    def make(prefix: str) -> RedisState:
        state = RedisState(REDIS_URL, prefix=prefix)
        made.append(state)
        return state

    yield make
    for state in made:
        await state.close()


def make_runtime(state: StateStore, settings: Settings | None = None) -> Runtime:
    settings = settings or Settings()
    registry = StaticRegistry([])
    return Runtime(
        settings=settings,
        state=state,
        llm=LLMClient(registry, settings.llm),
        registry=registry,
    )


@pytest.fixture
async def runtime() -> AsyncIterator[Callable[..., Runtime]]:
    """Installs a runtime over the given state store; removed after the test."""
    made: list[Runtime] = []

    def install(
        state: StateStore | None = None, settings: Settings | None = None
    ) -> Runtime:
        rt = make_runtime(state or MemoryState(), settings)
        made.append(rt)
        set_runtime(rt)
        return rt

    yield install
    set_runtime(None)
    for rt in made:
        await rt.llm.close()
