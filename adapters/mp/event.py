"""Events of the Official Account, built from the decrypted callback fields.

``MessageEvent`` is a user's message (text, or voice with recognition); ``NoticeEvent``
covers pushed events (subscribe, menu clicks, ...). ``msg_key`` is the dedup key:
``MsgId``, or sender + create time for events (WeChat's own advice).
"""

from __future__ import annotations

from typing import Any

from nonebot.adapters import Event as BaseEvent
from nonebot.compat import model_dump
from pydantic import PrivateAttr
from typing_extensions import override

from .exception import CallbackRejected
from .message import Message

_REQUIRED = ("ToUserName", "FromUserName", "CreateTime", "MsgType")


class Event(BaseEvent):
    account: str
    to_user_name: str
    from_user_name: str
    create_time: int
    msg_type: str
    #: the passive-reply slot of the HTTP delivery that brought this event
    _slot: Any = PrivateAttr(default=None)

    @property
    def msg_key(self) -> str:
        return f"{self.from_user_name}:{self.create_time}"

    @override
    def get_event_name(self) -> str:
        return f"{self.get_type()}.{self.msg_type}"

    @override
    def get_event_description(self) -> str:
        return f"mp {self.account} from {self.from_user_name}: {self.msg_type}"

    @override
    def get_message(self) -> Message:
        raise ValueError("event has no message")

    @override
    def get_user_id(self) -> str:
        return self.from_user_name

    @override
    def get_session_id(self) -> str:
        return f"{self.account}:{self.from_user_name}"

    @override
    def is_tome(self) -> bool:
        return True

    @override
    def get_type(self) -> str:
        return "notice"


class MessageEvent(Event):
    msg_id: str
    content: str = ""
    message: Message

    @property
    @override
    def msg_key(self) -> str:
        return self.msg_id

    @override
    def get_type(self) -> str:
        return "message"

    @override
    def get_message(self) -> Message:
        return self.message

    @override
    def get_event_description(self) -> str:
        return f"mp {self.account} message {self.msg_id} from {self.from_user_name}"


class NoticeEvent(Event):
    event: str
    event_key: str = ""

    @override
    def get_event_name(self) -> str:
        return f"notice.{self.event}"


def _text(fields: dict[str, Any], name: str) -> str:
    value = fields.get(name)
    if value is None:
        return ""
    if not isinstance(value, str | int):
        raise CallbackRejected(400, f"field {name} is not a scalar")
    return str(value)


def build_event(account: str, fields: dict[str, Any]) -> Event:
    """Map the callback's fields to an event; :class:`CallbackRejected` (400) when a
    required field is missing or malformed."""
    for name in _REQUIRED:
        if not _text(fields, name):
            raise CallbackRejected(400, f"missing field {name}")
    try:
        create_time = int(_text(fields, "CreateTime"))
    except ValueError as exc:
        raise CallbackRejected(400, "CreateTime is not an integer") from exc
    base = {
        "account": account,
        "to_user_name": _text(fields, "ToUserName"),
        "from_user_name": _text(fields, "FromUserName"),
        "create_time": create_time,
        "msg_type": _text(fields, "MsgType").lower(),
    }
    if base["msg_type"] == "event":
        event = _text(fields, "Event").lower()
        if not event:
            raise CallbackRejected(400, "missing field Event")
        return NoticeEvent(**base, event=event, event_key=_text(fields, "EventKey"))
    msg_id = _text(fields, "MsgId")
    if not msg_id:
        raise CallbackRejected(400, "missing field MsgId")
    if base["msg_type"] == "text":
        content = _text(fields, "Content")
    elif base["msg_type"] == "voice":
        content = _text(fields, "Recognition")
    else:
        content = ""
    return MessageEvent(
        **base, msg_id=msg_id, content=content, message=Message(content)
    )


def event_fields(event: Event) -> dict[str, Any]:
    """The event as plain data (for logs and golden tests)."""
    return model_dump(event)
