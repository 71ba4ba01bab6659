"""Errors of the WeCom adapter.

::

    WeComAdapterException
    ├── CallbackRejected     an incoming callback failed a check (carries the 4xx status)
    ├── ConnectionKicked     another connection subscribed with this bot id
    ├── SubscribeError       the long connection's ``aibot_subscribe`` was refused
    └── WeComApiError        the WeCom API answered an error code

Crypto errors come from :mod:`adapters.mp.crypto` (the same WXBizMsgCrypt scheme).
"""

from __future__ import annotations

from nonebot.exception import AdapterException


class WeComAdapterException(AdapterException):
    def __init__(self, *args: object) -> None:
        super().__init__("wecom", *args)


class CallbackRejected(WeComAdapterException):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class ConnectionKicked(WeComAdapterException):
    """``disconnected_event``: a newer connection took this bot over."""


class SubscribeError(WeComAdapterException):
    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(f"aibot_subscribe refused: errcode {errcode} ({errmsg})")
        self.errcode = errcode


class WeComApiError(WeComAdapterException):
    def __init__(self, api: str, errcode: int, errmsg: str) -> None:
        super().__init__(f"{api}: errcode {errcode} ({errmsg})")
        self.api = api
        self.errcode = errcode
        self.errmsg = errmsg
