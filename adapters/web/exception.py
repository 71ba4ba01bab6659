"""Web adapter errors.

::

    WebAdapterError
    └── FrameError   a client frame is malformed or refused (``code`` for the client)
"""

from __future__ import annotations

from nonebot.exception import AdapterException


class WebAdapterError(AdapterException):
    def __init__(self, message: str = "") -> None:
        super().__init__("Web")
        self.message = message


class FrameError(WebAdapterError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
