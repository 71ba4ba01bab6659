"""Sensitive words: block, mask or log listed words in messages and in answers.

Registers one middleware at :data:`bot.orders.SENSITIVE_WORDS`. Word lists come from
``<category>.txt`` files and from the ``SensitiveWord`` table; changes published on
the ``sensitive_words`` channel reach every instance without a restart.
"""

from __future__ import annotations

from collections.abc import Callable

from nonebot import get_driver, get_plugin_config
from nonebot.plugin import PluginMetadata

from bot import orders
from bot.chain import chain
from bot.outbound import register_filter
from bot.runtime import has_runtime

from .config import Config
from .middleware import make_middleware, make_outbound_filter
from .service import WordService, publish_change

__all__ = ["Config", "publish_change", "service"]

__plugin_meta__ = PluginMetadata(
    name="sensitive_words",
    description="Blocks, masks or logs listed words in messages and streamed answers",
    usage=(
        "Word lists: config/words/<category>.txt (one word per line); actions per "
        "category in plugins.sensitive_words.categories; admins: /word add|del."
    ),
    type="application",
    config=Config,
)

config = get_plugin_config(Config)
service = WordService(config)
_dispose: Callable[[], None] | None = None
_dispose_outbound: Callable[[], None] | None = None
driver = get_driver()


@driver.on_startup
async def _start() -> None:
    global _dispose, _dispose_outbound
    _dispose = chain.register(
        make_middleware(service, config),
        order=orders.SENSITIVE_WORDS,
        name="sensitive_words",
    )
    if config.sensitive_words_output:
        # every message any plugin sends, not only the chat's answers
        _dispose_outbound = register_filter(make_outbound_filter(service))
    if has_runtime():
        await service.get()


@driver.on_shutdown
async def _stop() -> None:
    global _dispose, _dispose_outbound
    if _dispose is not None:
        _dispose()
        _dispose = None
    if _dispose_outbound is not None:
        _dispose_outbound()
        _dispose_outbound = None
    await service.stop()
