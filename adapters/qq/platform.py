"""QQ as the chat kernel sees it: which events it answers, and how answers go out.

Private chats are always answered; in groups as the group's wake mode says
(:func:`bot.groups.wake`: by default when the bot is @-mentioned, its message is
replied to, both ``event.to_me``, or a configured prefix starts the text). Answers go out as text segments only, so nothing
the model writes can become a CQ code or an @all.
"""

from __future__ import annotations

from typing import Any

from nonebot.adapters.onebot.v11 import (
    GroupMessageEvent,
    Message,
    MessageEvent,
    MessageSegment,
)

from bot import groups
from bot.context import ChatContext
from bot.delivery import deliver_configured
from bot.metrics import MESSAGES_OUT
from bot.platform import Platform, is_superuser

from .content import looked_up, message_parts

PLATFORM = "qq"


async def context_factory(bot: Any, event: Any) -> ChatContext | None:
    if not isinstance(event, MessageEvent):
        return None
    config = bot.adapter.qq_config
    text, parts = message_parts(bot, event)
    group_id: str | None = None
    if isinstance(event, GroupMessageEvent):
        group_id = str(event.group_id)
        woken = groups.wake(
            f"{PLATFORM}:{group_id}",
            text,
            to_me=event.to_me,
            prefixes=config.qq_prefixes,
        )
        if woken is None:
            return None
        text = woken
    elif event.message_type != "private":
        return None
    parts = await looked_up(bot, event, parts)
    if not text and not parts:
        return None
    user_id = str(event.user_id)
    return ChatContext(
        platform=PLATFORM,
        user_id=user_id,
        group_id=group_id,
        text=text,
        parts=parts,
        message_id=str(event.message_id),
        bot_id=str(bot.self_id),
        is_admin=is_superuser(bot, PLATFORM, user_id),
        extra={"role": getattr(event.sender, "role", None)},
    )


async def deliver(bot: Any, event: Any, ctx: ChatContext) -> None:
    config = bot.adapter.qq_config
    group = isinstance(event, GroupMessageEvent)
    first = True

    async def send(text: str) -> None:
        nonlocal first
        message = Message()
        if group and first and config.qq_reply_quote:
            message += MessageSegment.reply(event.message_id)
        message += MessageSegment.text(text)
        first = False
        if group:
            await bot.send_msg(
                message_type="group", group_id=event.group_id, message=message
            )
        else:
            await bot.send_msg(
                message_type="private", user_id=event.user_id, message=message
            )
        MESSAGES_OUT.labels(PLATFORM).inc()

    await deliver_configured(ctx.reply, send, config, "qq")


def platform(adapter_name: str) -> Platform:
    return Platform(
        adapter=adapter_name,
        context_factory=context_factory,
        deliver=deliver,
        style="segments",
        key=PLATFORM,
    )
