"""The event of one chat-completion request."""

from __future__ import annotations

import asyncio
from typing import Any

from nonebot.adapters import Event as BaseEvent
from pydantic import PrivateAttr
from typing_extensions import override

from adapters.text import TextMessage


class ChatCompletionEvent(BaseEvent):
    """A chat-completion request, seen by NoneBot as a private message."""

    user: str
    session: str
    request_id: str
    text: str
    _handoff: asyncio.Future[Any] | None = PrivateAttr(default=None)
    _done: asyncio.Event | None = PrivateAttr(default=None)
    _request: Any = PrivateAttr(default=None)

    @override
    def get_type(self) -> str:
        return "message"

    @override
    def get_event_name(self) -> str:
        return "message.openai"

    @override
    def get_event_description(self) -> str:
        return f"chat completion {self.request_id} for {self.user}"

    @override
    def get_user_id(self) -> str:
        return self.user

    @override
    def get_session_id(self) -> str:
        return self.session

    @override
    def get_message(self) -> TextMessage:
        return TextMessage(self.text)

    @override
    def is_tome(self) -> bool:
        return True
