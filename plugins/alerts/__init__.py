"""Alerts: superusers hear, through every other working channel, when a connection
has been down longer than ``alerts.after`` seconds (a QQ or WeChat socket gone, a
WeCom AI bot kicked, the iLink session expired: the adapter disconnects the bot;
an Official Account's token refresh failing: reported through ``bot.health``; every
LLM endpoint's circuit open), once per incident, and once more when it is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from nonebot import get_driver, get_plugin_config
from nonebot.adapters import Bot
from nonebot.plugin import PluginMetadata

from bot import health
from bot.platform import platform_key
from bot.runtime import get_runtime

from .config import Config
from .monitor import Monitor, watch_llm
from .notify import notify_superusers as _notify
from .notify import superuser_targets

__plugin_meta__ = PluginMetadata(
    name="alerts",
    description="Tells superusers when a connection is down, and when it is back",
    usage="Set superusers and plugins.alerts.targets (e.g. wecom:robot:ops).",
    type="application",
    config=Config,
)

__all__ = ["Config", "monitor", "notify_superusers", "superuser_targets"]

log = logging.getLogger("freechat.alerts")
config = get_plugin_config(Config)
driver = get_driver()


async def notify_superusers(text: str, *, avoid: str = "") -> list[str]:
    """Send ``text`` to every superuser target (and ``alerts.targets``), skipping
    platform ``avoid``; return the targets reached."""
    return await _notify(text, config.alerts_targets, avoid=avoid)


async def _monitor_notify(text: str, avoid: str) -> None:
    await notify_superusers(text, avoid=avoid)


monitor = Monitor(config.alerts_after, _monitor_notify)
_llm_task: asyncio.Task[None] | None = None
_dispose_health: Callable[[], None] | None = None


#: how a platform is named in alerts (NoneBot's adapter name is the protocol's:
#: QQ and WeChat groups both speak OneBot)
_DISPLAY = {"qq": "QQ", "wechat": "WeChat", "wecom": "WeCom", "ilink": "iLink"}


def _channel(bot: Bot) -> str:
    key = platform_key(bot.adapter.get_name())
    return f"{_DISPLAY.get(key, bot.adapter.get_name())} {bot.self_id}"


@driver.on_bot_connect
async def _connected(bot: Bot) -> None:
    monitor.up(_channel(bot))


@driver.on_bot_disconnect
async def _disconnected(bot: Bot) -> None:
    monitor.down(
        _channel(bot),
        platform_key(bot.adapter.get_name()),
        "connection lost / 连接断开",
    )


def _reported(channel: str, platform: str, ok: bool, why: str) -> None:
    if ok:
        monitor.up(channel)
    else:
        monitor.down(channel, platform, why)


@driver.on_startup
async def _start() -> None:
    global _llm_task, _dispose_health
    _dispose_health = health.watch(_reported)
    _llm_task = asyncio.create_task(
        watch_llm(monitor, lambda: get_runtime().llm, config.alerts_check_interval),
        name="alerts-llm",
    )


@driver.on_shutdown
async def _stop() -> None:
    if _dispose_health is not None:
        _dispose_health()
    if _llm_task is not None:
        _llm_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await _llm_task
    await monitor.stop()
