"""Events of the web chat adapter."""

from __future__ import annotations

from typing import Any

from nonebot.adapters import Event as BaseEvent
from pydantic import PrivateAttr
from typing_extensions import override

from adapters.text import TextMessage


class WebMessageEvent(BaseEvent):
    """A message typed in the browser."""

    user: str
    conversation_id: str
    client_id: str
    text: str
    title: str = ""
    _connection: Any = PrivateAttr(default=None)

    @override
    def get_type(self) -> str:
        return "message"

    @override
    def get_event_name(self) -> str:
        return "message.web"

    @override
    def get_event_description(self) -> str:
        return f"web message from {self.user} ({len(self.text)} chars)"

    @override
    def get_user_id(self) -> str:
        return self.user

    @override
    def get_session_id(self) -> str:
        return f"web:{self.user}:{self.conversation_id}"

    @override
    def get_message(self) -> TextMessage:
        return TextMessage(self.text)

    @override
    def is_tome(self) -> bool:
        return True
