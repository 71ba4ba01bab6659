"""Rate limits and access control.

Two middleware and a guard for every plugin (``guard.py``): ``access`` at :data:`bot.orders.ACCESS` refuses banned users (the
``Ban`` table) and stays silent in groups where the chat is switched off
(``PluginSwitch`` rows for plugin ``chat``); ``rate_limit`` at
:data:`bot.orders.RATE_LIMIT` counts requests per user, per group and globally in
sliding windows of the shared state and tells the user how long to wait.
"""

from __future__ import annotations

from collections.abc import Callable

from nonebot import get_driver, get_plugin_config
from nonebot.message import run_preprocessor
from nonebot.plugin import PluginMetadata

from bot import orders
from bot.chain import chain
from bot.dispatch import own_processor
from bot.outbound import register_gate

from .access import AccessService, make_access_middleware, publish_access_change
from .config import Config
from .guard import make_guard, make_send_gate
from .middleware import make_rate_limit_middleware

__all__ = ["Config", "access_service", "publish_access_change"]

__plugin_meta__ = PluginMetadata(
    name="rate_limit",
    description="Requests per window per user, group and globally; bans",
    usage="Configure plugins.rate_limit.{user,group,global}[_window]; /ban, /unban.",
    type="application",
    config=Config,
)

config = get_plugin_config(Config)
access_service = AccessService(config)
_disposers: list[Callable[[], None]] = []
driver = get_driver()


# every plugin's matchers pass bans, switches and limits; the direct chat path
# skips this processor (the chain checks the chat's messages itself)
run_preprocessor(own_processor(make_guard(access_service, config)))


@driver.on_startup
async def _start() -> None:
    _disposers.append(register_gate(make_send_gate(config)))
    _disposers.append(
        chain.register(
            make_access_middleware(access_service, config),
            order=orders.ACCESS,
            name="access",
        )
    )
    _disposers.append(
        chain.register(
            make_rate_limit_middleware(config),
            order=orders.RATE_LIMIT,
            name="rate_limit",
        )
    )


@driver.on_shutdown
async def _stop() -> None:
    while _disposers:
        _disposers.pop()()
    await access_service.stop()
