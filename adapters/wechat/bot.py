"""The WeChat (OneBot v12) bot: the stock one, dispatching through ``bot.dispatch``
(a plain chat message goes straight to the chat plugin when nothing else listens)."""

from __future__ import annotations

from nonebot.adapters.onebot.v12 import Bot as OneBotBot
from nonebot.adapters.onebot.v12 import Event, MessageEvent
from nonebot.adapters.onebot.v12.bot import _check_nickname, _check_reply, _check_to_me
from typing_extensions import override

from bot.dispatch import dispatch


class Bot(OneBotBot):
    """A WeChat account connected through a OneBot v12 bridge."""

    @override
    async def handle_event(self, event: Event) -> None:
        # the stock handle_event's checks, then our dispatch instead of NoneBot's
        if isinstance(event, MessageEvent):
            event.message.reduce()
            _check_reply(self, event)
            _check_to_me(self, event)
            _check_nickname(self, event)
        await dispatch(self, event)
