"""History on SQLite and PostgreSQL: context loading, personas, saving exactly what
the user saw, nothing for blocked input or failed answers, restarts, /reset."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from fc_plugin_helpers import group_event, private_event

from bot.chain import MiddlewareChain
from bot.context import ChatContext, PromptMessage, ReplyChunk
from bot.state import MemoryState
from tests.fakes.openai_stub import OpenAIStub


def test_session_keys_match_the_context_default(plugins_loaded: None) -> None:
    from plugins.history.core import session_key

    assert session_key("qq", None, "42") == "qq:user:42"
    assert session_key("qq", "g1", "42") == "qq:g1"
    assert session_key("qq", "g1", "42", "per_user") == "qq:g1:user:42"
    assert ChatContext(platform="qq", user_id="42", text="").session_id == (
        session_key("qq", None, "42")
    )
    assert ChatContext(
        platform="qq", user_id="4", group_id="g1", text=""
    ).session_id == (session_key("qq", "g1", "4"))


def test_to_history_keeps_the_last_turns_starting_with_a_user(
    plugins_loaded: None,
) -> None:
    from plugins.history.core import title_from, to_history

    rows = [
        ("user", "1"),
        ("assistant", "a1"),
        ("user", "2"),
        ("assistant", "a2"),
        ("user", "3"),
        ("assistant", "a3"),
    ]
    assert to_history(rows, 2) == [
        PromptMessage("user", "2"),
        PromptMessage("assistant", "a2"),
        PromptMessage("user", "3"),
        PromptMessage("assistant", "a3"),
    ]
    assert to_history(rows[1:], 3)[0] == PromptMessage("user", "2")
    assert to_history(rows, 0) == []
    assert (
        title_from("  hello\n world " + "x" * 100) == ("hello world " + "x" * 100)[:40]
    )


def scripted(pieces: list[str], reasoning: str = "", fail: bool = False):  # type: ignore[no-untyped-def]
    async def terminal(ctx: ChatContext) -> None:
        ctx.extra["prompt"] = ctx.prompt()

        async def answer() -> AsyncIterator[ReplyChunk]:
            if reasoning:
                yield ReplyChunk(reasoning=reasoning)
            for p in pieces:
                yield ReplyChunk(text=p)
            ctx.usage.completion_tokens = len(pieces)
            ctx.extra["finish_reason"] = "error" if fail else "stop"

        ctx.reply = answer()

    return terminal


async def mask_bad_words(ctx: ChatContext, call_next: Any) -> None:
    """A stand-in for the sensitive-word filter: masks 'bad' in and out."""
    ctx.text = ctx.text.replace("bad", "***")
    if "blockme" in ctx.text:
        ctx.respond("blocked", reason="blocked")
        return
    await call_next()
    inner = ctx.reply

    async def filtered() -> AsyncIterator[ReplyChunk]:
        async for c in inner:
            yield ReplyChunk(c.text.replace("bad", "***"), c.reasoning)

    ctx.reply = filtered()


@pytest.fixture(params=["direct", "behind"])
async def history_chain(
    request: pytest.FixtureRequest, plugins_loaded: None
) -> AsyncIterator[MiddlewareChain]:
    """The history middleware writing each exchange at once (``direct``, no cache),
    or as the plugin runs it: cached, writing behind (``behind``)."""
    from bot.store import register_flusher
    from plugins.history.cache import SessionCache
    from plugins.history.config import Config
    from plugins.history.middleware import make_middleware
    from plugins.history.writer import HistoryWriter

    chain = MiddlewareChain()
    config = Config(history_max_turns=2)
    if request.param == "direct":
        chain.register(make_middleware(config), order=300)
        chain.register(mask_bad_words, order=400)
        yield chain
        return
    cache, writer = SessionCache(ttl=60), HistoryWriter()
    await writer.start()
    dispose = register_flusher(writer.flush)
    chain.register(make_middleware(config, cache, writer), order=300)
    chain.register(mask_bad_words, order=400)
    try:
        yield chain
    finally:
        await writer.stop()
        dispose()
        await cache.stop()


async def talk(
    chain: MiddlewareChain, text: str, terminal: Any, **kw: Any
) -> tuple[ChatContext, str]:
    ctx = ChatContext(platform="qq", user_id="7", text=text, **kw)
    await chain.run(ctx, terminal)
    out = "".join([c.text async for c in ctx.reply])
    return ctx, out


async def changed(session_key: str) -> None:
    """Announce a change made behind the plugin's back (as /persona does)."""
    from plugins.history.cache import publish_session_change

    await publish_session_change(session_key)
    await asyncio.sleep(0.05)  # the cache's feed watcher runs


async def messages(conversation_id: str) -> list[tuple[str, str]]:
    from bot.store import flush_pending
    from bot.store.models import Message

    await flush_pending()  # what the writer still holds

    rows = (
        await Message.filter(conversation_id=conversation_id)
        .order_by("id")
        .values_list("role", "content")
    )
    return [(r, c) for r, c in rows]


async def test_saves_what_the_user_saw_and_loads_it_next_time(
    database: str, runtime: Callable[..., Any], history_chain: MiddlewareChain
) -> None:
    from bot.store.models import Message, SessionSetting

    rt = runtime(MemoryState())
    rt.demo_model = True
    ctx, out = await talk(
        history_chain, "hi bad bot", scripted(["you ", "bad"], "think")
    )
    assert out == "you ***"
    cid = ctx.extra["conversation_id"]
    assert await messages(cid) == [("user", "hi *** bot"), ("assistant", "you ***")]
    answer = await Message.filter(conversation_id=cid, role="assistant").first()
    assert answer is not None
    assert (answer.reasoning, answer.demo, answer.tokens) == ("think", True, 2)
    assert ctx.system_prompt == rt.settings.llm.system_prompt

    await SessionSetting.create(session_key="qq:user:7", persona="You are a cat.")
    await changed("qq:user:7")
    for i in range(3):
        ctx, _ = await talk(history_chain, f"q{i}", scripted([f"a{i}"]))
    assert ctx.extra["conversation_id"] == cid
    assert ctx.system_prompt == "You are a cat."
    # two turns of history, then the new message
    assert ctx.extra["prompt"] == [
        {"role": "system", "content": "You are a cat."},
        {"role": "user", "content": "q0"},
        {"role": "assistant", "content": "a0"},
        {"role": "user", "content": "q1"},
        {"role": "assistant", "content": "a1"},
        {"role": "user", "content": "q2"},
    ]


async def test_media_is_kept_by_reference_with_the_quote(
    database: str, runtime: Callable[..., Any], history_chain: MiddlewareChain
) -> None:
    from bot.content import ImagePart, QuotePart

    runtime(MemoryState())
    uri = "data:image/png;base64,iVBORw0KGgo="
    parts = [
        QuotePart("the sky is green", "Ann"),
        ImagePart("https://x.qpic.cn/1", uri),
    ]
    ctx, _ = await talk(history_chain, "look", scripted(["ok"]), parts=parts)
    assert await messages(ctx.extra["conversation_id"]) == [
        ("user", "[quote] Ann: the sky is green\nlook\n[image]"),
        ("assistant", "ok"),
    ]


async def test_blocked_input_and_failed_answers_are_not_saved_as_answers(
    database: str, runtime: Callable[..., Any], history_chain: MiddlewareChain
) -> None:
    runtime(MemoryState())
    ctx, out = await talk(history_chain, "please blockme", scripted(["never"]))
    assert (ctx.stopped_by, out) == ("blocked", "blocked")
    cid = ctx.extra["conversation_id"]
    assert await messages(cid) == []
    ctx, out = await talk(
        history_chain, "hello", scripted(["The model failed."], fail=True)
    )
    assert out == "The model failed."
    assert await messages(cid) == [("user", "hello")]


async def test_stopped_stream_saves_the_part_that_was_shown(
    database: str, runtime: Callable[..., Any], history_chain: MiddlewareChain
) -> None:
    runtime(MemoryState())
    ctx = ChatContext(platform="qq", user_id="7", text="long story")
    await history_chain.run(ctx, scripted(["once ", "upon ", "a ", "time"]))
    seen = []
    async for chunk in ctx.reply:
        seen.append(chunk.text)
        if len(seen) == 2:
            break
    await ctx.reply.aclose()  # type: ignore[attr-defined]
    assert await messages(ctx.extra["conversation_id"]) == [
        ("user", "long story"),
        ("assistant", "once upon "),
    ]


async def test_web_conversations_by_id_with_owner_check(
    database: str, runtime: Callable[..., Any], history_chain: MiddlewareChain
) -> None:
    from bot.store.models import Conversation

    runtime(MemoryState())
    extra = {
        "conversation_id": "c0ffee00-0000-4000-8000-000000000001",
        "owner": "web:alice",
    }
    ctx, _ = await talk(
        history_chain,
        "First question about " + "x" * 50,
        scripted(["ok"]),
        extra=dict(extra),
    )
    conv = await Conversation.get(id=extra["conversation_id"])
    assert conv.owner == "web:alice"
    assert conv.title == ("First question about " + "x" * 50)[:40]
    ctx, _out = await talk(
        history_chain,
        "steal",
        scripted(["no"]),
        extra={**extra, "owner": "web:mallory"},
    )
    assert ctx.stopped_by == "forbidden"
    assert await messages(extra["conversation_id"]) == [
        ("user", "First question about " + "x" * 50),
        ("assistant", "ok"),
    ]


async def test_history_survives_a_restart(
    database: str, runtime: Callable[..., Any], history_chain: MiddlewareChain
) -> None:
    from bot.store import close_store, init_store

    runtime(MemoryState())
    await talk(history_chain, "remember 42", scripted(["noted"]))
    await close_store()
    await init_store(database)
    ctx, _ = await talk(history_chain, "what number?", scripted(["42"]))
    assert ctx.history == [
        PromptMessage("user", "remember 42"),
        PromptMessage("assistant", "noted"),
    ]


async def test_reset_command_archives_the_context(
    app: Any, database: str, runtime: Callable[..., Any], history_chain: MiddlewareChain
) -> None:
    from bot.platform import Platform, register_platform
    from bot.store.models import Conversation
    from plugins.history import commands as reset

    async def factory(bot: Any, event: Any) -> ChatContext:
        return ChatContext(platform="qq", user_id=str(event.user_id), text="")

    async def deliver(bot: Any, event: Any, ctx: ChatContext) -> None:
        return None

    runtime(MemoryState())
    ctx, _ = await talk(history_chain, "hello", scripted(["hi"]))
    event = private_event(7, "/reset")
    async with app.test_matcher(reset) as c:
        bot = c.create_bot()
        dispose = register_platform(Platform(bot.adapter.get_name(), factory, deliver))
        c.receive_event(bot, event)
        c.should_call_send(event, "Context cleared. 已清空对话上下文。", result=None)
    dispose()
    assert (await Conversation.get(id=ctx.extra["conversation_id"])).archived
    ctx2, _ = await talk(history_chain, "fresh", scripted(["start"]))
    assert ctx2.extra["conversation_id"] != ctx.extra["conversation_id"]
    assert ctx2.history == []


async def test_persona_command_sets_shows_and_clears(
    app: Any, database: str, runtime: Callable[..., Any], history_chain: MiddlewareChain
) -> None:
    from bot.platform import Platform, register_platform
    from plugins.history import commands as persona

    async def factory(bot: Any, event: Any) -> ChatContext:
        group = getattr(event, "group_id", None)
        return ChatContext(
            platform="qq",
            user_id=str(event.user_id),
            group_id=str(group) if group else None,
            text="",
            extra={"role": event.sender.role},
        )

    async def deliver(bot: Any, event: Any, ctx: ChatContext) -> None:
        return None

    def private(text: str) -> Any:
        return private_event(7, text)

    def group(text: str, role: str) -> Any:
        return group_event(8, 55, text, role)

    async def command(event: Any, answer: str) -> None:
        async with app.test_matcher(persona) as c:
            bot = c.create_bot()
            dispose = register_platform(
                Platform(bot.adapter.get_name(), factory, deliver)
            )
            c.receive_event(bot, event)
            c.should_call_send(event, answer, result=None)
        dispose()

    runtime(MemoryState())
    await command(
        private("/persona"), "No persona set (the default applies). 未设置人设。"
    )
    await command(private("/persona 你是一只猫。"), "Persona saved. 人设已保存。")
    await command(private("/persona"), "你是一只猫。")
    ctx, _ = await talk(history_chain, "hi", scripted(["meow"]))
    assert ctx.system_prompt == "你是一只猫。"
    await command(private("/persona reset"), "Persona saved. 人设已保存。")
    ctx, _ = await talk(history_chain, "hi", scripted(["hello"]))
    assert ctx.system_prompt == "You are a helpful assistant."
    await command(
        group("/persona 海盗", "member"),
        "Only admins can change the persona here. 仅管理员可修改群人设。",
    )
    await command(group("/persona 海盗", "admin"), "Persona saved. 人设已保存。")
    await command(group("/persona", "member"), "海盗")


@pytest.mark.parametrize("mode", ["shared", "per_user"])
async def test_group_mode(
    plugins_loaded: None, database: str, runtime: Callable[..., Any], mode: str
) -> None:
    from plugins.history.config import Config
    from plugins.history.middleware import make_middleware

    runtime(MemoryState())
    chain = MiddlewareChain()
    chain.register(make_middleware(Config(history_group_mode=mode)), order=300)
    convs = []
    for user in ("a", "b"):
        ctx = ChatContext(platform="qq", user_id=user, group_id="g1", text=f"hi {user}")
        await chain.run(ctx, scripted(["hello"]))
        [c async for c in ctx.reply]
        convs.append((ctx.session_id, ctx.extra["conversation_id"]))
    if mode == "shared":
        assert convs[0] == convs[1]
        assert convs[0][0] == "qq:g1"
    else:
        assert [s for s, _ in convs] == ["qq:g1:user:a", "qq:g1:user:b"]
        assert convs[0][1] != convs[1][1]


async def test_an_answer_the_model_breaks_off_is_kept_apart_and_saved_partial(
    database: str,
    runtime: Callable[..., Any],
    history_chain: MiddlewareChain,
    openai_stub: OpenAIStub,
) -> None:
    """D9: the real model step, the model stalls after part of an answer: the
    error is a message of its own (segments), never glued to the last word, and
    history keeps what was said, marked partial, without the error text."""
    import nonebot

    from bot.delivery import deliver_segments
    from bot.exceptions import LLMTimeout
    from bot.llm import LLMClient
    from bot.registry import Endpoint, StaticRegistry
    from bot.settings import LLMSettings

    if sys.modules.get("plugins.chat") is None:
        nonebot.load_plugin("plugins.chat")
    from plugins.chat.core import model_stream
    from plugins.history.store import PARTIAL_MARK

    runtime(MemoryState())
    openai_stub.script("Hello there and more", chunk_chars=11, hang_after=1)
    llm = LLMClient(
        StaticRegistry([Endpoint(openai_stub.base_url)]),
        LLMSettings(model="stub-model", idle_timeout=0.5),
    )

    async def terminal(c: ChatContext) -> None:
        c.reply = model_stream(c, llm)

    ctx = ChatContext(platform="qq", user_id="7", text="tell me")
    sent: list[str] = []

    async def send(text: str) -> None:
        sent.append(text)

    try:
        await history_chain.run(ctx, terminal)
        await deliver_segments(ctx.reply, send, min_interval=0)
    finally:
        await llm.close()
    assert sent == ["Hello there", "⚠ " + LLMTimeout.user_message]
    assert await messages(ctx.extra["conversation_id"]) == [
        ("user", "tell me"),
        ("assistant", "Hello there" + PARTIAL_MARK),
    ]
