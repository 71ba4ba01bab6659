"""iLink adapter errors.

::

    ILinkError              (nonebot AdapterException)
    ├── NetworkError        the API could not be reached or answered garbage
    ├── ApiError            the API answered ret/errcode != 0
    │   └── SessionExpired  errcode -14: the login expired, log in again
    └── NotLoggedIn         no bot token configured or stored
"""

from __future__ import annotations

from nonebot.exception import AdapterException


class ILinkError(AdapterException):
    def __init__(self, message: str = "") -> None:
        super().__init__("iLink")
        self.message = message

    def __str__(self) -> str:
        return self.message


class NetworkError(ILinkError):
    pass


class ApiError(ILinkError):
    def __init__(self, errcode: int, errmsg: str = "") -> None:
        super().__init__(f"iLink API error {errcode}: {errmsg}")
        self.errcode = errcode


class SessionExpired(ApiError):
    pass


class NotLoggedIn(ILinkError):
    pass
