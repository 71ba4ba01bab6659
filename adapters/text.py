"""A plain-text message type for adapters whose messages are text only (web chat,
the OpenAI-compatible front door)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from nonebot.adapters import Message as BaseMessage
from nonebot.adapters import MessageSegment as BaseMessageSegment
from typing_extensions import override


class TextSegment(BaseMessageSegment["TextMessage"]):
    @classmethod
    @override
    def get_message_class(cls) -> type[TextMessage]:
        return TextMessage

    @override
    def __str__(self) -> str:
        return str(self.data.get("text", ""))

    @override
    def is_text(self) -> bool:
        return True

    @staticmethod
    def text(text: str) -> TextSegment:
        return TextSegment("text", {"text": text})


class TextMessage(BaseMessage[TextSegment]):
    @classmethod
    @override
    def get_segment_class(cls) -> type[TextSegment]:
        return TextSegment

    @staticmethod
    @override
    def _construct(msg: str) -> Iterable[TextSegment]:
        yield TextSegment.text(msg)

    def plain(self) -> str:
        return "".join(str(seg) for seg in self)


def text_of(message: Any) -> str:
    return message.plain() if isinstance(message, TextMessage) else str(message)
