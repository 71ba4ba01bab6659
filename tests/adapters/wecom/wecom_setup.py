"""Names and settings of the WeCom test bots (a module of its own: test files
must not import ``conftest``, whose module name other test folders share)."""

from __future__ import annotations

from typing import Any

BOT_ID, BOT_SECRET = "aib-1", "bot-secret"
CORP_ID, APP_SECRET = "ww0123456789abcdef", "app-secret"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


def long_bot(**extra: Any) -> dict[str, Any]:
    return {
        "name": "lc",
        "mode": "long",
        "bot_id": BOT_ID,
        "secret": BOT_SECRET,
        **extra,
    }


def webhook_bot(**extra: Any) -> dict[str, Any]:
    return {
        "name": "hook",
        "mode": "webhook",
        "bot_id": BOT_ID,
        "token": "hook-token",
        "encoding_aes_key": AES_KEY,
        **extra,
    }


def app_config(**extra: Any) -> dict[str, Any]:
    return {
        "name": "app",
        "corp_id": CORP_ID,
        "agent_id": 1000002,
        "secret": APP_SECRET,
        "token": "app-token",
        "encoding_aes_key": AES_KEY,
        **extra,
    }
