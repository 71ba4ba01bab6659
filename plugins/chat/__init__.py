"""The chat plugin: answers every message no other matcher took, through the
middleware chain and the model, for any adapter that registered a platform."""

from __future__ import annotations

import logging

from nonebot import get_driver, get_plugin_config, on_message
from nonebot.adapters import Bot, Event
from nonebot.matcher import current_bot, current_event
from nonebot.plugin import PluginMetadata

from bot.burst import Bursts, until_cancelled
from bot.chain import chain
from bot.context import ChatContext
from bot.dispatch import handled, set_chat
from bot.metrics import ERRORS, MESSAGES_IN, SHED
from bot.outbound import own_sends
from bot.platform import Platform, get_platform
from bot.runtime import get_runtime

from .config import Config
from .core import Admission, looks_like_command
from .rich import answer_rich

__plugin_meta__ = PluginMetadata(
    name="chat",
    description="Answers messages with the LLM through the middleware chain",
    usage="Talk to the bot; in groups, mention it or use the configured prefix.",
    type="application",
    config=Config,
)

log = logging.getLogger(__name__)
config = get_plugin_config(Config)
_admission: Admission | None = None
bursts = Bursts(config.chat_merge_window, config.chat_merge_mode)

chat = on_message(priority=99, block=True)


def _admission_for(limit: int) -> Admission:
    global _admission
    if _admission is None:
        _admission = Admission(limit)
    return _admission


@chat.handle()
async def handle_chat() -> None:
    # the bot and event from NoneBot's context rather than as parameters: a handler
    # with parameters costs two task groups and a task per parameter per message
    await answer(current_bot.get(), current_event.get())


async def answer(bot: Bot, event: Event) -> None:
    """Answer ``event`` through the chain and the adapter's delivery, unless
    another plugin handled it (see ``bot.dispatch``)."""
    if handled():
        return
    with own_sends():  # the chain filters and limits the chat's answers itself
        await _answer(bot, event)


async def _answer(bot: Bot, event: Event) -> None:
    platform = get_platform(bot.adapter.get_name())
    if platform is None:
        return
    ctx = await platform.context_factory(bot, event)
    if ctx is None:
        return
    if looks_like_command(ctx.text, get_driver().config.command_start):
        # a command no plugin knows: never a model call
        where = config.chat_unknown_command
        if where == "everywhere" or (where == "private" and ctx.group_id is None):
            ctx.respond(config.chat_unknown_command_message, reason="unknown_command")
            await platform.deliver(bot, event, ctx)
        return
    merged = await bursts.gather(ctx)
    if merged is None:
        return  # joined a burst that the call of its first message answers
    async with bursts.turn(merged):
        await _answer_model(bot, event, platform, merged)


async def _answer_model(
    bot: Bot, event: Event, platform: Platform, ctx: ChatContext
) -> None:
    rt = get_runtime()
    settings = rt.settings
    MESSAGES_IN.labels(ctx.platform).inc()
    admission = _admission_for(settings.server.max_in_flight)
    if not admission.try_enter():
        SHED.labels(ctx.platform).inc()
        ctx.respond(config.chat_busy_message, reason="overload")
        await platform.deliver(bot, event, ctx)
        return
    try:
        if len(ctx.text) > settings.server.max_message_chars:
            ctx.respond(config.chat_too_long_message, reason="too_long")
        else:
            ctx.max_tokens = ctx.max_tokens or settings.llm.max_tokens
            ctx.system_prompt = ctx.system_prompt or settings.llm.system_prompt
            await answer_rich(
                ctx, chain, rt.llm, settings, error_message=config.chat_error_message
            )
            if bursts.mode == "interrupt" and bursts.window > 0:
                ctx.reply = until_cancelled(ctx, ctx.reply)
        await platform.deliver(bot, event, ctx)
    except Exception:
        ERRORS.labels("delivery").inc()
        log.exception("answering %s on %s failed", ctx.trace_id, ctx.platform)
        raise
    finally:
        admission.leave()


# adapters that dispatch through bot.dispatch call answer() directly while this
# matcher is the only one a plain message can reach (see bot.dispatch)
set_chat(chat, answer)
