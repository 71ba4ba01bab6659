"""iLink messages: text only (other item types are shown as placeholders)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from nonebot.adapters import Message as BaseMessage
from nonebot.adapters import MessageSegment as BaseMessageSegment
from typing_extensions import override

ITEM_TEXT = 1
_PLACEHOLDERS = {2: "[image]", 3: "[voice]", 4: "[file]", 5: "[video]"}


class MessageSegment(BaseMessageSegment["Message"]):
    @classmethod
    @override
    def get_message_class(cls) -> type[Message]:
        return Message

    @override
    def __str__(self) -> str:
        return str(self.data.get("text", ""))

    @override
    def is_text(self) -> bool:
        return self.type == "text"

    @staticmethod
    def text(text: str) -> MessageSegment:
        return MessageSegment("text", {"text": text})


class Message(BaseMessage[MessageSegment]):
    @classmethod
    @override
    def get_segment_class(cls) -> type[MessageSegment]:
        return MessageSegment

    @staticmethod
    @override
    def _construct(msg: str) -> Iterable[MessageSegment]:
        yield MessageSegment.text(msg)

    @classmethod
    def from_items(cls, items: list[dict[str, Any]]) -> Message:
        """Build from an inbound ``item_list``; voice items carry their transcript."""
        message = cls()
        for item in items:
            kind = item.get("type")
            if kind == ITEM_TEXT:
                text = (item.get("text_item") or {}).get("text", "")
            elif kind == 3 and (item.get("voice_item") or {}).get("text"):
                text = item["voice_item"]["text"]
            else:
                text = _PLACEHOLDERS.get(kind, "") if isinstance(kind, int) else ""
            if text:
                message.append(MessageSegment.text(str(text)))
        return message
