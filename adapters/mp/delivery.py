"""How the chat kernel talks to the Official Account: the context factory and the
``whole`` delivery (one answer, passive reply or customer-service messages)."""

from __future__ import annotations

from typing import Any

from bot.context import ChatContext
from bot.delivery import collect

from .event import MessageEvent


async def context_factory(bot: Any, event: Any) -> ChatContext | None:
    if not isinstance(event, MessageEvent) or not event.content.strip():
        return None
    return ChatContext(
        platform="mp",
        user_id=event.from_user_name,
        text=event.content,
        bot_id=str(bot.self_id),
        message_id=event.msg_id,
    )


async def deliver(bot: Any, event: Any, ctx: ChatContext) -> None:
    text, _ = await collect(ctx.reply)
    await bot.send(event, text)
