"""The NoneBot ``Bot`` of one WeCom AI bot or self-built app (``self_id`` = name)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nonebot.adapters import Bot as BaseBot
from typing_extensions import override

from .config import WeComApp, WeComBot
from .event import Event
from .message import Message, MessageSegment, to_text

if TYPE_CHECKING:
    from .adapter import Adapter


class Bot(BaseBot):
    adapter: Adapter

    @override
    def __init__(
        self, adapter: Adapter, self_id: str, target: WeComBot | WeComApp
    ) -> None:
        super().__init__(adapter, self_id)
        self.target = target

    @override
    async def send(  # type: ignore[override]
        self, event: Event, message: str | Message | MessageSegment, **kwargs: Any
    ) -> Any:
        """Answer ``event`` with one finished message, the way its source allows."""
        return await self.adapter.send_text(self, event, to_text(message))
