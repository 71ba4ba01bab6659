"""Per-group settings in the kernel (``bot.groups``): stored, reloaded from the
change feed, and applied: wake modes, switching off, commands, history mode,
persona, model and the group's rate limit. A real SQLite store and state store."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot import groups
from bot.chain import MiddlewareChain
from bot.context import ChatContext
from bot.llm import LLMClient
from bot.registry import StaticRegistry
from bot.runtime import Runtime, set_runtime
from bot.settings import Settings
from bot.state import MemoryState

KEY = "qq:1"


@pytest.fixture
async def state(tmp_path: Path) -> AsyncIterator[MemoryState]:
    from bot.store import close_store, init_store

    await init_store(f"sqlite://{tmp_path}/fc.db")
    settings = Settings(locale="en")
    state = MemoryState()
    rt = Runtime(
        settings=settings,
        state=state,
        llm=LLMClient(StaticRegistry([]), settings.llm),
        registry=StaticRegistry([]),
    )
    set_runtime(rt)
    await groups.start(state)
    yield state
    await groups.stop()
    set_runtime(None)
    await rt.llm.close()
    await close_store()


async def apply_to(state: MemoryState, key: str, **values: object) -> None:
    """Save a group's settings and wait until this instance's feed applied them."""
    settings = groups.GroupSettings.model_validate(values)
    await groups.save_settings(state, key, settings, "test")
    for _ in range(200):
        if groups.settings_for(key) == settings:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the change never arrived")


async def apply(state: MemoryState, **values: object) -> None:
    await apply_to(state, KEY, **values)


def wake(text: str, *, to_me: bool = False) -> str | None:
    return groups.wake(KEY, text, to_me=to_me, prefixes=["#"])


async def test_wake_modes(state: MemoryState) -> None:
    # the default: mention, reply or a global prefix only
    assert wake("hello") is None
    assert wake("hello", to_me=True) == "hello"
    assert wake("# hello") == "hello"
    await apply(state, wake="prefix", prefixes=[" 小助手 ", ""])
    assert groups.settings_for(KEY).prefixes == ["小助手"]
    assert wake("小助手 天气") == "天气"
    assert wake("天气 小助手") is None
    assert wake("hi", to_me=True) == "hi"  # an @ always works
    await apply(state, wake="nickname", names=["Alfred"])
    assert wake("hey ALFRED, hi") == "hey ALFRED, hi"
    assert wake("hey al") is None
    await apply(state, wake="all")
    assert wake("anything") == "anything"
    assert groups.wake("qq:2", "other group", to_me=False) is None
    await apply(state, wake="random", probability=0.0)
    assert all(wake("x") is None for _ in range(50))
    await apply(state, wake="random", probability=1.0)
    assert all(wake("x") == "x" for _ in range(50))
    # off: never answered, not even on @; commands still see the message
    await apply(state, enabled=False, wake="all")
    assert wake("hi", to_me=True) is None
    with groups.commanding():
        assert wake("/help") == "/help"
    assert wake("/help") is None


async def test_bad_settings_are_refused_and_unreadable_rows_default() -> None:
    with pytest.raises(ValueError, match="wake"):
        groups.GroupSettings.model_validate({"wake": "shout"})
    with pytest.raises(ValueError, match="probability"):
        groups.GroupSettings.model_validate({"probability": 2})
    with pytest.raises(ValueError, match="extra"):
        groups.GroupSettings.model_validate({"colour": "red"})
    assert groups.parse("{not json") == groups.GroupSettings()
    assert groups.parse("") == groups.GroupSettings()


async def run(chain: MiddlewareChain, ctx: ChatContext) -> bool:
    """Run ``ctx`` through ``chain``; True when the model would have been called."""
    reached: list[bool] = []

    async def terminal(c: ChatContext) -> None:
        reached.append(True)

    await chain.run(ctx, terminal)
    return bool(reached)


def message(user: str = "7") -> ChatContext:
    ctx = ChatContext(platform="qq", user_id=user, group_id="1", text="hi")
    ctx.system_prompt = "the global default"
    return ctx


async def test_middleware(state: MemoryState) -> None:
    from bot.store.models import Persona

    chain = MiddlewareChain()
    chain.register(groups.middleware, order=250, name="groups")
    ctx = message()
    assert await run(chain, ctx)
    assert (ctx.session_id, ctx.system_prompt, ctx.model) == (
        "qq:1", "the global default", None,
    )  # fmt: skip
    await Persona.create(name="cat", prompt="You are a cat.")
    await groups.publish_personas(state)
    await apply(state, persona="cat", model="m1", history="user", rate_limit=2)
    for _ in range(200):
        if groups.persona_prompt(groups.settings_for(KEY)):
            break
        await asyncio.sleep(0.01)
    ctx = message()
    assert await run(chain, ctx)
    assert ctx.session_id == "qq:1:user:7"
    assert ctx.system_prompt == "You are a cat."
    assert ctx.model == "m1"
    # an inline prompt wins over the named one
    await apply(state, persona="cat", system_prompt="Inline.", rate_limit=2)
    ctx = message()
    assert await run(chain, ctx)
    assert ctx.system_prompt == "Inline."
    # the third message in a minute is refused, in the locale
    ctx = message()
    assert not await run(chain, ctx)
    assert ctx.stopped_by == "group_rate"
    chunks = [c.text async for c in ctx.reply]
    assert chunks == [
        "This group is sending too many messages, please try again shortly."
    ]
    # messages outside groups pass untouched
    direct = ChatContext(platform="qq", user_id="7", text="hi")
    assert await run(chain, direct)
    assert direct.session_id == "qq:user:7"
