"""iLink events: a user's direct message (``WeixinMessage`` with ``message_type`` 1)."""

from __future__ import annotations

from typing import Any

from nonebot.adapters import Event as BaseEvent
from pydantic import Field
from typing_extensions import override

from .message import Message


class Event(BaseEvent):
    @override
    def get_type(self) -> str:
        return ""

    @override
    def get_event_name(self) -> str:
        return "ilink"

    @override
    def get_event_description(self) -> str:
        return "iLink event"

    @override
    def get_user_id(self) -> str:
        raise ValueError("Event has no user")

    @override
    def get_session_id(self) -> str:
        raise ValueError("Event has no session")

    @override
    def get_message(self) -> Message:
        raise ValueError("Event has no message")

    @override
    def is_tome(self) -> bool:
        return False


class MessageEvent(Event):
    """A direct message to the bot."""

    message_id: str
    from_user_id: str
    to_user_id: str = ""
    context_token: str = ""
    create_time_ms: int = 0
    item_list: list[dict[str, Any]] = Field(default_factory=list)
    message: Message = Field(default_factory=Message)

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> MessageEvent:
        items = data.get("item_list") or []
        return cls(
            message_id=str(data["message_id"]),
            from_user_id=str(data["from_user_id"]),
            to_user_id=str(data.get("to_user_id") or ""),
            context_token=str(data.get("context_token") or ""),
            create_time_ms=int(data.get("create_time_ms") or 0),
            item_list=items,
            message=Message.from_items(items),
        )

    @override
    def get_type(self) -> str:
        return "message"

    @override
    def get_event_name(self) -> str:
        return "message.private"

    @override
    def get_event_description(self) -> str:
        return f"Message {self.message_id} from {self.from_user_id}: {self.message}"

    @override
    def get_user_id(self) -> str:
        return self.from_user_id

    @override
    def get_session_id(self) -> str:
        return self.from_user_id

    @override
    def get_message(self) -> Message:
        return self.message

    @override
    def is_tome(self) -> bool:
        return True
