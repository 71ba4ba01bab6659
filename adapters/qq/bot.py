"""The QQ bot: the stock OneBot v11 bot with a bounded reply lookup.

The stock ``handle_event`` asks NapCat (``get_msg``) who wrote a quoted message, to
know whether the user replied to the bot; it waits ``api_timeout`` (30 s by default)
for that. We bound the lookup so a slow peer cannot hold a slot that long.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from nonebot.adapters.onebot.v11 import Bot as OneBotBot
from nonebot.adapters.onebot.v11 import Event, MessageEvent
from nonebot.adapters.onebot.v11.bot import _check_at_me, _check_nickname, _check_reply
from nonebot.adapters.onebot.v11.utils import log
from typing_extensions import override

from bot.dispatch import dispatch

if TYPE_CHECKING:
    from .adapter import Adapter


class Bot(OneBotBot):
    """A QQ account connected through OneBot v11."""

    adapter: Adapter

    @override
    async def handle_event(self, event: Event) -> None:
        if isinstance(event, MessageEvent):
            event.message.reduce()
            if any(seg.type == "reply" for seg in event.message):
                timeout = self.adapter.qq_config.qq_reply_lookup_timeout
                try:
                    await asyncio.wait_for(_check_reply(self, event), timeout)
                except TimeoutError:
                    log("WARNING", "reply lookup (get_msg) timed out")
            _check_at_me(self, event)
            _check_nickname(self, event)
        await dispatch(self, event)

    async def send_text(self, event: MessageEvent, text: str, **kwargs: Any) -> Any:
        """Send ``text`` as one text segment (never parsed as CQ codes)."""
        from nonebot.adapters.onebot.v11 import Message, MessageSegment

        return await self.send(event, Message(MessageSegment.text(text)), **kwargs)
