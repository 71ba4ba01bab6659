"""Conversation history: context per session, personas, ``/reset``, ``/persona``.

Registers a middleware at :data:`bot.orders.HISTORY` and two commands (NoneBot
matchers: they never reach the model): ``/reset`` archives the sender's current
context; ``/persona [text|reset]`` shows, sets or clears the session's system
prompt (in groups only for admins and group owners/admins). Conversations live in
the database, so history survives restarts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Annotated, Any

from nonebot import get_driver, get_plugin_config, on_command
from nonebot.adapters import Bot, Event, Message
from nonebot.params import CommandArg
from nonebot.plugin import PluginMetadata
from tortoise.exceptions import BaseORMException

from bot import orders
from bot.chain import chain
from bot.context import ChatContext
from bot.platform import get_platform
from bot.store.models import SessionSetting

from .config import Config
from .core import effective_session, session_key
from .middleware import make_middleware
from .store import archive_session

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
driver = get_driver()

reset = on_command("reset", priority=5, block=True)


def _session(ctx: ChatContext) -> str:
    return effective_session(
        ctx.platform,
        ctx.group_id,
        ctx.user_id,
        ctx.session_id,
        config.history_group_mode,
    )


persona = on_command("persona", priority=5, block=True)


@reset.handle()
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
    except (BaseORMException, OSError) as exc:
        log.error("/reset failed for %s: %s", key, exc)
        await reset.finish("Please try again later. 请稍后再试。")
    log.info("/reset archived %d conversations of %s", count, key)
    await reset.finish(config.history_reset_message)


@persona.handle()
async def _persona(
    bot: Bot, event: Event, arg: Annotated[Message[Any], CommandArg()]
) -> None:
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
            await persona.finish(current or config.history_persona_none_message)
        if ctx.group_id and not (
            ctx.is_admin or ctx.extra.get("role") in ("owner", "admin")
        ):
            await persona.finish(config.history_persona_denied_message)
        if len(text) > config.history_persona_max_chars:
            await persona.finish(config.history_persona_too_long_message)
        value = None if text == "reset" else text
        await SessionSetting.update_or_create(
            session_key=key, defaults={"persona": value}
        )
    except (BaseORMException, OSError) as exc:
        log.error("/persona failed for %s: %s", key, exc)
        await persona.finish("Please try again later. 请稍后再试。")
    await persona.finish(config.history_persona_set_message)


@driver.on_startup
async def _start() -> None:
    global _dispose
    _dispose = chain.register(
        make_middleware(config), order=orders.HISTORY, name="history"
    )


@driver.on_shutdown
async def _stop() -> None:
    global _dispose
    if _dispose is not None:
        _dispose()
        _dispose = None
