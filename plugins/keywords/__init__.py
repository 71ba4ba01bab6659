"""Keyword auto-replies: fixed answers that stop the chain before the model.

Registers a middleware at :data:`bot.orders.KEYWORDS`. Rules (exact, contains,
regex; global or per group; highest priority wins) come from
``plugins.keywords.rules`` and the ``KeywordRule`` table.
"""

from __future__ import annotations

from collections.abc import Callable

from nonebot import get_driver, get_plugin_config
from nonebot.plugin import PluginMetadata

from bot import orders
from bot.chain import chain

from .config import Config
from .middleware import KeywordService, make_middleware, publish_keyword_change

__all__ = ["Config", "publish_keyword_change", "service"]

__plugin_meta__ = PluginMetadata(
    name="keywords",
    description="Fixed replies to exact, contained or regex-matched messages",
    usage="Rules in plugins.keywords.rules or via /keyword add; priority decides.",
    type="application",
    config=Config,
)

config = get_plugin_config(Config)
service = KeywordService(config)
_dispose: Callable[[], None] | None = None
driver = get_driver()


@driver.on_startup
async def _start() -> None:
    global _dispose
    _dispose = chain.register(
        make_middleware(service), order=orders.KEYWORDS, name="keywords"
    )


@driver.on_shutdown
async def _stop() -> None:
    global _dispose
    if _dispose is not None:
        _dispose()
        _dispose = None
    await service.stop()
