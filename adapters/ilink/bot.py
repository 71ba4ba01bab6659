"""The iLink bot: one logged-in personal WeChat account."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nonebot.adapters import Bot as BaseBot
from typing_extensions import override

from bot.dispatch import dispatch as handle_event

from .event import Event, MessageEvent
from .message import Message, MessageSegment

if TYPE_CHECKING:
    from .adapter import Adapter


class Bot(BaseBot):
    adapter: Adapter

    async def handle_event(self, event: Event) -> None:
        await handle_event(self, event)

    @override
    async def send(
        self, event: Event, message: str | Message | MessageSegment, **kwargs: Any
    ) -> Any:
        """Answer ``event``'s sender (with its ``context_token``), as text."""
        if not isinstance(event, MessageEvent):
            raise ValueError("iLink can only answer message events")
        text = str(message) if not isinstance(message, str) else message
        return await self.adapter.client.send_text(
            event.from_user_id, event.context_token, text
        )
