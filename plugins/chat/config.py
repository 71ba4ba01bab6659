"""Settings of the chat plugin (``plugins: {chat: {...}}``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class Config(BaseModel):
    #: answer sent when too much work is in flight
    chat_busy_message: str = (
        "I'm busy right now, please try again in a moment. 稍后再试。"
    )
    #: answer sent when a message is longer than server.max_message_chars
    chat_too_long_message: str = "Your message is too long. 消息太长了。"
    #: answer sent when something unexpected failed
    chat_error_message: str = "Something went wrong. Please try again. 出错了，请重试。"
    #: where a ``/command`` that no plugin knows gets a short answer instead of a
    #: model call: ``private`` (private chats; silence in groups), ``everywhere``,
    #: ``nowhere`` (silence)
    chat_unknown_command: Literal["private", "everywhere", "nowhere"] = "private"
    chat_unknown_command_message: str = (
        "Unknown command, see /help. 未知命令，请发送 /help 查看帮助。"
    )
    #: seconds in which one user's messages in one chat are merged into one
    #: question answered once (0 = off; 2 suggested for groups)
    chat_merge_window: float = Field(0.0, ge=0, le=60)
    #: with a merge window, a message that comes while the same user's answer is
    #: being written: waits behind it (``queue``), stops it (``interrupt``) or is
    #: answered at the same time (``parallel``)
    chat_merge_mode: Literal["queue", "interrupt", "parallel"] = "queue"
