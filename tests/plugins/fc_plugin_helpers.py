"""Small helpers shared by the plugin tests (importable by name from test modules)."""

from __future__ import annotations

import uuid
from typing import Any


def unique_prefix() -> str:
    """A Redis key prefix no other test run uses."""
    return f"fctest:{uuid.uuid4().hex[:10]}:"


def private_event(user_id: int, text: str) -> Any:
    """A OneBot v11 private message from ``user_id`` (import after NoneBot init)."""
    from nonebot.adapters.onebot.v11 import Message, PrivateMessageEvent
    from nonebot.adapters.onebot.v11.event import Sender

    return PrivateMessageEvent(
        time=0,
        self_id=1,
        post_type="message",
        sub_type="friend",
        user_id=user_id,
        message_type="private",
        message_id=user_id * 1000 + len(text),
        message=Message(text),
        original_message=Message(text),
        raw_message=text,
        font=0,
        sender=Sender(user_id=user_id),
        to_me=True,
    )
