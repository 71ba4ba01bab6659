"""Errors of the Official Account adapter.

::

    MPAdapterException
    ├── CallbackRejected      an incoming callback failed a check (carries the 4xx status)
    ├── CryptoError           bad base64 / padding / length in an encrypted payload
    │   └── ReceiveIdError    decrypted fine, but for another AppID / corp id
    └── MPApiError            the WeChat API answered an error code
        └── QuotaError        45015 (48 h window closed) / 45047 (message quota used up)
"""

from __future__ import annotations

from nonebot.exception import AdapterException


class MPAdapterException(AdapterException):
    def __init__(self, *args: object) -> None:
        super().__init__("mp", *args)


class CallbackRejected(MPAdapterException):
    """A callback that must be answered with ``status`` (never a 500)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class CryptoError(MPAdapterException):
    """The encrypted payload cannot be decrypted."""


class ReceiveIdError(CryptoError):
    """The payload was encrypted for another receiver."""


class MPApiError(MPAdapterException):
    def __init__(self, api: str, errcode: int, errmsg: str) -> None:
        super().__init__(f"{api}: errcode {errcode} ({errmsg})")
        self.api = api
        self.errcode = errcode
        self.errmsg = errmsg


class QuotaError(MPApiError):
    """Customer-service quota errors; never retried."""
