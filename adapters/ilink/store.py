"""What the iLink adapter keeps in the database (``KeyValue``): the login (token,
bot id, base URL) and the ``getupdates`` cursor per bot."""

from __future__ import annotations

from bot.store.models import KeyValue

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
