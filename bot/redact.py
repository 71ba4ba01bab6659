"""Secrets kept out of what FreeChat prints: ``freechat check`` and the log.

Settings are redacted by key name (any string under a key that names a token, a
secret, a password or a key) and inside URLs (``scheme://user:PASSWORD@host``).
Log lines lose the values of ``access_token=`` and similar query parameters (a
refused OneBot socket's URL is logged by the server as it was requested).
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["MASK", "redact_line", "redact_settings"]

MASK = "***"
_SECRET_KEY = re.compile(
    r"secret|token|passw|aes|api_?key|private|credential|signature", re.IGNORECASE
)
_URL_PASSWORD = re.compile(r"(://[^:/@\s]*:)([^@/\s]+)(@)")
# the one-time setup link (``#/setup?token=``) is printed on purpose: not masked
_QUERY_SECRET = re.compile(
    r"((?:access_token|api_key|secret|password)=)[^&\s\"']+", re.IGNORECASE
)


def redact_settings(value: Any, key: str = "") -> Any:
    """A copy of a settings dump with every secret value masked."""
    if isinstance(value, dict):
        return {k: redact_settings(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_settings(v, key) for v in value]
    if isinstance(value, str) and value:
        if _SECRET_KEY.search(key):
            return MASK
        return _URL_PASSWORD.sub(rf"\g<1>{MASK}\g<3>", value)
    return value


def redact_line(text: str) -> str:
    """``text`` with secret query values and URL passwords masked."""
    if "=" in text:
        text = _QUERY_SECRET.sub(rf"\g<1>{MASK}", text)
    if "@" in text:
        text = _URL_PASSWORD.sub(rf"\g<1>{MASK}\g<3>", text)
    return text
