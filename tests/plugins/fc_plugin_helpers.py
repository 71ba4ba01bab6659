"""Small helpers shared by the plugin tests (importable by name from test modules)."""

from __future__ import annotations

import uuid
from typing import Any


def unique_prefix() -> str:
    """A Redis key prefix no other test run uses."""
    return f"fctest:{uuid.uuid4().hex[:10]}:"


def _message_fields(user_id: int, text: str, role: str | None) -> dict[str, Any]:
    from nonebot.adapters.onebot.v11 import Message
    from nonebot.adapters.onebot.v11.event import Sender

    return {
        "time": 0,
        "self_id": 1,
        "post_type": "message",
        "user_id": user_id,
        "message_id": user_id * 1000 + len(text),
        "message": Message(text),
        "original_message": Message(text),
        "raw_message": text,
        "font": 0,
        "sender": Sender(user_id=user_id, role=role),
        "to_me": True,
    }


def private_event(user_id: int, text: str) -> Any:
    """A OneBot v11 private message from ``user_id`` (import after NoneBot init)."""
    from nonebot.adapters.onebot.v11 import PrivateMessageEvent

    return PrivateMessageEvent(
        sub_type="friend",
        message_type="private",
        **_message_fields(user_id, text, None),
    )


def group_event(user_id: int, group_id: int, text: str, role: str = "member") -> Any:
    """A OneBot v11 group message addressed to the bot (import after NoneBot init)."""
    from nonebot.adapters.onebot.v11 import GroupMessageEvent

    return GroupMessageEvent(
        sub_type="normal",
        message_type="group",
        group_id=group_id,
        **_message_fields(user_id, text, role),
    )
