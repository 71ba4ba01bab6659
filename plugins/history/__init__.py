"""Conversation history: context per session, personas, ``/reset``, ``/persona``.

Registers a middleware at :data:`bot.orders.HISTORY` and two commands (in the
shared command matcher of :mod:`bot.commands`: they never reach the model):
``/reset`` archives the sender's current context; ``/persona [text|reset]`` shows,
sets or clears the session's system prompt (in groups only for admins and group
owners/admins). Conversations live in the database, so history survives restarts.

Per message the plugin reads nothing from the database once a conversation is in
its cache (:mod:`.cache`), and writes behind: exchanges are queued and written in
batches by :class:`.writer.HistoryWriter`, in order, retried when the database
fails, flushed on shutdown and before the web API lists messages. With Redis as
the shared state, queued exchanges are journaled there (:mod:`.journal`), so a
crash while the database is slow loses none: another instance, or the next start,
writes them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from nonebot import get_driver, get_plugin_config
from nonebot.adapters import Bot, Event, Message
from nonebot.plugin import PluginMetadata
from nonebot.typing import T_State

from bot import orders
from bot.chain import chain
from bot.commands import command_arg, command_matcher, command_of, on_commands
from bot.context import ChatContext
from bot.platform import get_platform
from bot.runtime import get_runtime
from bot.store import register_flusher
from bot.store.errors import DB_ERRORS
from bot.store.models import SessionSetting

from .cache import SessionCache, publish_session_change
from .config import Config
from .core import effective_session, session_key
from .journal import RedisJournal
from .middleware import make_middleware
from .store import archive_session
from .writer import HistoryWriter

__all__ = ["Config", "session_key"]

__plugin_meta__ = PluginMetadata(
    name="history",
    description="Keeps each session's conversation and persona; /reset clears it",
    usage="/reset: start a new context. Personas: the SessionSetting table.",
    type="application",
    config=Config,
)

log = logging.getLogger(__name__)
config = get_plugin_config(Config)
_dispose: Callable[[], None] | None = None
_cache = SessionCache(ttl=config.history_cache_ttl)
_writer: HistoryWriter | None = None
_unregister_flush: Callable[[], None] | None = None
driver = get_driver()

commands = command_matcher()  # shared by FreeChat's commands (bot.commands)


def _session(ctx: ChatContext) -> str:
    return effective_session(
        ctx.platform,
        ctx.group_id,
        ctx.user_id,
        ctx.session_id,
        config.history_group_mode,
    )


async def _reset(bot: Bot, event: Event) -> None:
    platform = get_platform(bot.adapter.get_name())
    if platform is None:
        return
    ctx = await platform.context_factory(bot, event)
    if ctx is None:
        return
    key = _session(ctx)
    try:
        count = await archive_session(key)
    except DB_ERRORS as exc:
        log.error("/reset failed for %s: %s", key, exc)
        await commands.finish("Please try again later. 请稍后再试。")
    await publish_session_change(key)
    log.info("/reset archived %d conversations of %s", count, key)
    await commands.finish(config.history_reset_message)


async def _persona(bot: Bot, event: Event, arg: Message[Any]) -> None:
    platform = get_platform(bot.adapter.get_name())
    ctx = await platform.context_factory(bot, event) if platform else None
    if ctx is None:
        return
    text = arg.extract_plain_text().strip()
    key = _session(ctx)
    try:
        setting = await SessionSetting.get_or_none(session_key=key)
        if not text:
            current = setting.persona if setting and setting.persona else None
            await commands.finish(current or config.history_persona_none_message)
        if ctx.group_id and not (
            ctx.is_admin or ctx.extra.get("role") in ("owner", "admin")
        ):
            await commands.finish(config.history_persona_denied_message)
        if len(text) > config.history_persona_max_chars:
            await commands.finish(config.history_persona_too_long_message)
        value = None if text == "reset" else text
        await SessionSetting.update_or_create(
            session_key=key, defaults={"persona": value}
        )
        await publish_session_change(key)
    except DB_ERRORS as exc:
        log.error("/persona failed for %s: %s", key, exc)
        await commands.finish("Please try again later. 请稍后再试。")
    await commands.finish(config.history_persona_set_message)


@on_commands("reset", "persona")
async def _dispatch(bot: Bot, event: Event, state: T_State) -> None:
    if command_of(state) == "reset":
        await _reset(bot, event)
    else:
        await _persona(bot, event, command_arg(state))


@driver.on_startup
async def _start() -> None:
    global _dispose, _writer, _unregister_flush
    rt = get_runtime()
    await _cache.start(rt.state, origin=rt.instance_id)

    async def announce(conversations: set[str]) -> None:
        await _cache.announce(rt.state, conversations)

    url = rt.settings.state.url
    # with Redis, queued exchanges are journaled: a crash loses none (.journal)
    journal = None if url.startswith("memory://") else RedisJournal(url, rt.instance_id)
    _writer = HistoryWriter(on_flushed=announce, journal=journal)
    await _writer.start()
    _unregister_flush = register_flusher(_writer.flush)
    _dispose = chain.register(
        make_middleware(config, _cache, _writer), order=orders.HISTORY, name="history"
    )


@driver.on_shutdown
async def _stop() -> None:
    global _dispose, _writer, _unregister_flush
    if _dispose is not None:
        _dispose()
        _dispose = None
    if _writer is not None:
        await _writer.stop()  # writes what is still queued
        _writer = None
    if _unregister_flush is not None:
        _unregister_flush()
        _unregister_flush = None
    await _cache.stop()
