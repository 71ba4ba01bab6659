"""The NoneBot ``Bot`` of one Official Account."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nonebot.adapters import Bot as BaseBot
from typing_extensions import override

from .config import MPAccount
from .event import Event
from .message import Message, MessageSegment, to_text

if TYPE_CHECKING:
    from .adapter import Adapter


class Bot(BaseBot):
    """``self_id`` is the account's configured name."""

    adapter: Adapter

    @override
    def __init__(self, adapter: Adapter, self_id: str, account: MPAccount) -> None:
        super().__init__(adapter, self_id)
        self.account = account

    @override
    async def send(  # type: ignore[override]
        self, event: Event, message: str | Message | MessageSegment, **kwargs: Any
    ) -> Any:
        """Answer ``event``: passively while its HTTP delivery still waits, else
        through the customer-service API."""
        return await self.adapter.answer(self, event, to_text(message))
