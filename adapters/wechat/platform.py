"""WeChat groups as the chat kernel sees them (OneBot v12, string ids).

Private chats are always answered; in groups as the group's wake mode says
(:func:`bot.groups.wake`: by default when the bot is mentioned or replied to, or a
configured prefix starts the text). Answers are text segments only, sent with ``send_message``.
"""

from __future__ import annotations

from typing import Any

from nonebot.adapters.onebot.v12 import (
    GroupMessageEvent,
    Message,
    MessageSegment,
    PrivateMessageEvent,
)

from bot import groups
from bot.context import ChatContext
from bot.delivery import deliver_configured
from bot.metrics import MESSAGES_OUT
from bot.platform import Platform, is_superuser

PLATFORM = "wechat"


async def context_factory(bot: Any, event: Any) -> ChatContext | None:
    if not isinstance(event, GroupMessageEvent | PrivateMessageEvent):
        return None
    config = bot.adapter.wechat_config
    text = event.get_plaintext().strip()
    group_id: str | None = None
    if isinstance(event, GroupMessageEvent):
        group_id = event.group_id
        woken = groups.wake(
            f"{PLATFORM}:{group_id}",
            text,
            to_me=event.to_me,
            prefixes=config.wechat_prefixes,
        )
        if woken is None:
            return None
        text = woken
    if not text:
        return None
    return ChatContext(
        platform=PLATFORM,
        user_id=event.user_id,
        group_id=group_id,
        text=text,
        message_id=event.message_id,
        bot_id=bot.self_id,
        is_admin=is_superuser(bot, PLATFORM, event.user_id),
    )


async def deliver(bot: Any, event: Any, ctx: ChatContext) -> None:
    config = bot.adapter.wechat_config
    group = isinstance(event, GroupMessageEvent)
    first = True

    async def send(text: str) -> None:
        nonlocal first
        message = Message()
        if group and first and config.wechat_mention_sender:
            message += MessageSegment.mention(event.user_id) + " "
        message += MessageSegment.text(text)
        first = False
        if group:
            await bot.send_message(
                detail_type="group", group_id=event.group_id, message=message
            )
        else:
            await bot.send_message(
                detail_type="private", user_id=event.user_id, message=message
            )
        MESSAGES_OUT.labels(PLATFORM).inc()

    await deliver_configured(ctx.reply, send, config, "wechat")


def platform(adapter_name: str) -> Platform:
    return Platform(
        adapter=adapter_name,
        context_factory=context_factory,
        deliver=deliver,
        style="segments",
        key=PLATFORM,
    )
