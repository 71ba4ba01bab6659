"""iLink as the chat kernel sees it: every direct message is answered; the answer is
sent as text with the message's ``context_token``, with "typing..." shown while it is
produced."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from bot.context import ChatContext
from bot.delivery import deliver_configured
from bot.metrics import MESSAGES_OUT
from bot.platform import Platform, is_superuser

from .event import MessageEvent
from .exception import ILinkError

PLATFORM = "ilink"
TYPING_REFRESH = 5.0


async def context_factory(bot: Any, event: Any) -> ChatContext | None:
    if not isinstance(event, MessageEvent):
        return None
    text = event.get_plaintext().strip()
    if not text:
        return None
    return ChatContext(
        platform=PLATFORM,
        user_id=event.from_user_id,
        text=text,
        message_id=event.message_id,
        bot_id=bot.self_id,
        is_admin=is_superuser(bot, PLATFORM, event.from_user_id),
    )


async def _typing(client: Any, event: MessageEvent) -> None:
    """Keep "typing..." on until cancelled, then clear it."""
    ticket = ""
    try:
        ticket = await client.typing_ticket(event.from_user_id, event.context_token)
        while True:
            await client.send_typing(event.from_user_id, ticket, typing=True)
            await asyncio.sleep(TYPING_REFRESH)
    finally:
        if ticket:
            with contextlib.suppress(ILinkError):
                await asyncio.shield(
                    client.send_typing(event.from_user_id, ticket, typing=False)
                )


async def deliver(bot: Any, event: Any, ctx: ChatContext) -> None:
    config = bot.adapter.ilink_config
    client = bot.adapter.client
    typing = (
        asyncio.create_task(_typing(client, event)) if config.ilink_typing else None
    )

    async def send(text: str) -> None:
        await client.send_text(event.from_user_id, event.context_token, text)
        MESSAGES_OUT.labels(PLATFORM).inc()

    try:
        await deliver_configured(ctx.reply, send, config, "ilink")
    finally:
        if typing is not None:
            typing.cancel()
            with contextlib.suppress(asyncio.CancelledError, ILinkError):
                await typing


def platform(adapter_name: str) -> Platform:
    return Platform(
        adapter=adapter_name,
        context_factory=context_factory,
        deliver=deliver,
        style="segments",
    )
