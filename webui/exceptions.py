"""Web app errors.

::

    FreeChatError
    ├── AuthError   (bot.auth) bad credentials, session or token: 401/403/429
    └── WebUIError  the web app's own
"""

from __future__ import annotations

from bot.auth.exceptions import AuthError
from bot.exceptions import FreeChatError

__all__ = ["AuthError", "WebUIError"]


class WebUIError(FreeChatError):
    """Base of the web app's own errors."""
