"""Authentication errors.

::

    FreeChatError
    └── AuthError   bad credentials, session or token (maps to 401/403/429)
"""

from __future__ import annotations

from bot.exceptions import FreeChatError


class AuthError(FreeChatError):
    """A refused credential; ``status`` is the HTTP status it maps to."""

    def __init__(self, message: str, status: int = 401) -> None:
        super().__init__(message)
        self.status = status
