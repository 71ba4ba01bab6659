"""Platform connections as the kernel sees them: NoneBot's connect and disconnect
hooks keep :data:`connections` (for the console) and the ``freechat_bot_online``
gauge (for Prometheus) per adapter and bot id; an event preprocessor stamps each
connection's last event."""

from __future__ import annotations

import time
from typing import Any

from nonebot.adapters import Bot

from .metrics import BOT_ONLINE

#: ``adapter:self_id`` -> online, connected_at, disconnected_at, connects,
#: last_event_at
connections: dict[str, dict[str, Any]] = {}


async def on_connect(bot: Bot) -> None:
    adapter, self_id = bot.adapter.get_name(), str(bot.self_id)
    entry = connections.setdefault(
        f"{adapter}:{self_id}",
        {"adapter": adapter, "self_id": self_id, "connects": 0,
         "connected_at": None, "disconnected_at": None},
    )  # fmt: skip
    entry["connects"] += 1
    entry["connected_at"] = time.time()
    entry["online"] = True
    BOT_ONLINE.labels(adapter, self_id).set(1)


async def on_disconnect(bot: Bot) -> None:
    adapter, self_id = bot.adapter.get_name(), str(bot.self_id)
    entry = connections.get(f"{adapter}:{self_id}")
    if entry is not None:
        entry["online"] = False
        entry["disconnected_at"] = time.time()
    BOT_ONLINE.labels(adapter, self_id).set(0)


async def on_event(bot: Bot) -> None:
    entry = connections.get(f"{bot.adapter.get_name()}:{bot.self_id}")
    if entry is not None:
        entry["last_event_at"] = time.time()


def install(driver: Any) -> None:
    from nonebot.message import event_preprocessor

    driver.on_bot_connect(on_connect)
    driver.on_bot_disconnect(on_disconnect)
    event_preprocessor(on_event)
