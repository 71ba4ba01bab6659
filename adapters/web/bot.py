"""The web chat bot: one per instance; replies go to the socket of the event."""

from __future__ import annotations

from typing import Any

from nonebot.adapters import Bot as BaseBot
from nonebot.adapters import Event, Message, MessageSegment
from typing_extensions import override

from adapters.text import text_of

from .event import WebMessageEvent


class Bot(BaseBot):
    @override
    async def send(
        self, event: Event, message: str | Message | MessageSegment, **kwargs: Any
    ) -> Any:
        """Send a complete message (used by plain NoneBot matchers such as /reset)."""
        if not isinstance(event, WebMessageEvent) or event._connection is None:
            raise ValueError("the web bot can only answer web events")
        await event._connection.send_whole(event, text_of(message))
