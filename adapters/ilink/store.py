"""What the iLink adapter keeps in the database (``KeyValue``): the login (token,
bot id, base URL) and the ``getupdates`` cursor per bot.

The bot token is kept sealed (AES-GCM under a key derived from the instance's
secret, :mod:`bot.auth.sealed`). A token stored in plain text by an older version is
still read, and sealed in its place when it is read.
"""

from __future__ import annotations

import logging

from bot.auth.sealed import SealError, is_sealed, seal, unseal
from bot.settings import Settings
from bot.store.models import KeyValue

log = logging.getLogger(__name__)

TOKEN_KEY = "ilink:token"
BOT_ID_KEY = "ilink:bot_id"
BASE_URL_KEY = "ilink:base_url"


def cursor_key(bot_id: str) -> str:
    return f"ilink:cursor:{bot_id}"


async def get_value(key: str) -> str | None:
    row = await KeyValue.get_or_none(key=key)
    return row.value if row is not None else None


async def set_value(key: str, value: str) -> None:
    await KeyValue.update_or_create(defaults={"value": value}, key=key)


async def delete_value(key: str) -> None:
    await KeyValue.filter(key=key).delete()


async def get_token(settings: Settings) -> str | None:
    """The stored bot token; None when there is none or it does not open here."""
    value = await get_value(TOKEN_KEY)
    if value is None:
        return None
    if not is_sealed(value):
        await set_token(settings, value)
        return value
    try:
        return unseal(settings, TOKEN_KEY, value)
    except SealError:
        log.warning(
            "the stored iLink token does not open with this instance's secret "
            "(auth.jwt_secret or secret.key changed?): log in again"
        )
        return None


async def set_token(settings: Settings, token: str) -> None:
    await set_value(TOKEN_KEY, seal(settings, TOKEN_KEY, token))
