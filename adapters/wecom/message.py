"""Messages of WeCom: text and markdown (the model's answers are text)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from nonebot.adapters import Message as BaseMessage
from nonebot.adapters import MessageSegment as BaseMessageSegment
from typing_extensions import override


class MessageSegment(BaseMessageSegment["Message"]):
    @classmethod
    @override
    def get_message_class(cls) -> type[Message]:
        return Message

    @override
    def __str__(self) -> str:
        return str(self.data.get("text", "")) if self.is_text() else ""

    @override
    def is_text(self) -> bool:
        return self.type in ("text", "markdown")

    @staticmethod
    def text(text: str) -> MessageSegment:
        return MessageSegment("text", {"text": text})

    @staticmethod
    def markdown(text: str) -> MessageSegment:
        return MessageSegment("markdown", {"text": text})


class Message(BaseMessage[MessageSegment]):
    @classmethod
    @override
    def get_segment_class(cls) -> type[MessageSegment]:
        return MessageSegment

    @staticmethod
    @override
    def _construct(msg: str) -> Iterable[MessageSegment]:
        yield MessageSegment.text(msg)

    @override
    def extract_plain_text(self) -> str:
        return "".join(str(seg) for seg in self if seg.is_text())


def to_text(message: Any) -> str:
    """Plain text of whatever a matcher passes to ``bot.send``."""
    if isinstance(message, Message):
        return message.extract_plain_text()
    if isinstance(message, MessageSegment):
        return str(message)
    return str(message)
