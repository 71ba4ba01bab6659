"""Events of WeCom: AI-bot callbacks (long connection or webhook JSON) and self-built
app callbacks (decrypted XML), mapped to one ``MessageEvent`` shape.

``source`` says how the answer goes back: ``long`` (stream frames on the connection,
with the callback's ``req_id``), ``webhook`` (stream state read by refresh
callbacks) or ``app`` (``message/send``).
"""

from __future__ import annotations

import re
from typing import Any, Literal

from nonebot.adapters import Event as BaseEvent
from pydantic import PrivateAttr
from typing_extensions import override

from .exception import CallbackRejected
from .message import Message

Source = Literal["long", "webhook", "app"]
_MENTION = re.compile(r"^\s*@\S+\s*")


class Event(BaseEvent):
    #: the configured bot or app name
    bot: str
    source: Source
    user_id: str
    chat_id: str = ""
    chat_type: str = "single"

    @override
    def get_event_name(self) -> str:
        return self.get_type()

    @override
    def get_event_description(self) -> str:
        return f"wecom {self.bot} ({self.source}) from {self.user_id}"

    @override
    def get_message(self) -> Message:
        raise ValueError("event has no message")

    @override
    def get_user_id(self) -> str:
        return self.user_id

    @override
    def get_session_id(self) -> str:
        return f"{self.bot}:{self.chat_id or self.user_id}"

    @override
    def is_tome(self) -> bool:
        return True

    @override
    def get_type(self) -> str:
        return "notice"


class MessageEvent(Event):
    msg_id: str
    msg_type: str
    content: str = ""
    message: Message
    #: long connection: the callback's ``req_id`` every answer frame must carry
    req_id: str = ""
    #: webhook: URL for a later reply (not used for streaming)
    response_url: str = ""
    #: the stream id of the answer (long connection and webhook)
    _stream_id: str = PrivateAttr(default="")

    @override
    def get_type(self) -> str:
        return "message"

    @override
    def get_event_name(self) -> str:
        return f"message.{self.chat_type}"

    @override
    def get_message(self) -> Message:
        return self.message

    @override
    def get_event_description(self) -> str:
        return f"wecom {self.bot} message {self.msg_id} from {self.user_id}"


class NoticeEvent(Event):
    event_type: str
    req_id: str = ""

    @override
    def get_event_name(self) -> str:
        return f"notice.{self.event_type}"


def _str(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if value is None:
        return ""
    if not isinstance(value, str | int):
        raise CallbackRejected(400, f"field {key} is not a scalar")
    return str(value)


def _dict(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise CallbackRejected(400, f"field {key} is not an object")
    return value


def bot_event(
    name: str, source: Source, body: dict[str, Any], req_id: str = ""
) -> MessageEvent | NoticeEvent:
    """An AI-bot callback body (``msgid, chatid, chattype, from.userid, msgtype``)."""
    user_id = _str(_dict(body, "from"), "userid")
    msg_type = _str(body, "msgtype")
    if not user_id or not msg_type:
        raise CallbackRejected(400, "missing from.userid or msgtype")
    common = {
        "bot": name,
        "source": source,
        "user_id": user_id,
        "chat_id": _str(body, "chatid"),
        "chat_type": _str(body, "chattype") or "single",
        "req_id": req_id,
    }
    if msg_type == "event":
        event_type = _str(_dict(body, "event"), "eventtype")
        if not event_type:
            raise CallbackRejected(400, "missing event.eventtype")
        return NoticeEvent(**common, event_type=event_type)
    msg_id = _str(body, "msgid")
    if not msg_id:
        raise CallbackRejected(400, "missing msgid")
    if msg_type == "text":
        content = _str(_dict(body, "text"), "content")
    elif msg_type == "voice":
        content = _str(_dict(body, "voice"), "content")
    elif msg_type == "mixed":
        items = _dict(body, "mixed").get("msg_item") or []
        content = "".join(
            _str(_dict(item, "text"), "content")
            for item in items
            if isinstance(item, dict) and item.get("msgtype") == "text"
        )
    else:
        content = ""
    if common["chat_type"] == "group":
        content = _MENTION.sub("", content, count=1)
    return MessageEvent(
        **common,
        msg_id=msg_id,
        msg_type=msg_type,
        content=content,
        message=Message(content),
        response_url=_str(body, "response_url"),
    )


def app_event(name: str, fields: dict[str, Any]) -> MessageEvent | NoticeEvent:
    """A self-built app callback (decrypted XML fields)."""
    user_id = _str(fields, "FromUserName")
    msg_type = _str(fields, "MsgType").lower()
    create_time = _str(fields, "CreateTime")
    if not user_id or not msg_type or not create_time:
        raise CallbackRejected(400, "missing FromUserName, MsgType or CreateTime")
    if msg_type == "event":
        event_type = _str(fields, "Event").lower()
        if not event_type:
            raise CallbackRejected(400, "missing Event")
        return NoticeEvent(
            bot=name,
            source="app",
            user_id=user_id,
            event_type=event_type,
            chat_id="",
            req_id=f"{user_id}:{create_time}",
        )
    msg_id = _str(fields, "MsgId")
    if not msg_id:
        raise CallbackRejected(400, "missing MsgId")
    content = _str(fields, "Content") if msg_type == "text" else ""
    return MessageEvent(
        bot=name,
        source="app",
        user_id=user_id,
        msg_id=msg_id,
        msg_type=msg_type,
        content=content,
        message=Message(content),
    )
