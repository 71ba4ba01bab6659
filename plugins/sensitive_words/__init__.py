"""Sensitive words: block, mask or log listed words in messages and in answers.

Registers one middleware at :data:`bot.orders.SENSITIVE_WORDS`. Word lists come from
``<category>.txt`` files and from the ``SensitiveWord`` table; changes published on
the ``sensitive_words`` channel reach every instance without a restart.
"""

from __future__ import annotations

from collections.abc import Callable

from nonebot import get_driver, get_plugin_config
from nonebot.plugin import PluginMetadata

from bot import orders, outbound
from bot.chain import chain
from bot.runtime import has_runtime
from bot.send import register_output_filter

from .config import Config
from .core import StreamFilter
from .middleware import make_middleware
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
_dispose_filter: Callable[[], None] | None = None
driver = get_driver()


async def filter_proactive(text: str) -> str:
    """The output filter for messages that answer nothing (``bot.send``)."""
    matcher = await service.get()
    if not config.sensitive_words_output or not len(matcher):
        return text
    words = StreamFilter(matcher, max_hold=config.sensitive_words_max_hold)
    return words.feed(text) + words.flush()


@driver.on_startup
async def _start() -> None:
    global _dispose, _dispose_filter
    # proactive sends (bot.send) and, through the API hook, every plugin's sends
    _dispose_filter = register_output_filter(filter_proactive)
    outbound.install()
    _dispose = chain.register(
        make_middleware(service, config),
        order=orders.SENSITIVE_WORDS,
        name="sensitive_words",
    )
    if has_runtime():
        await service.get()


@driver.on_shutdown
async def _stop() -> None:
    global _dispose, _dispose_filter
    if _dispose_filter is not None:
        _dispose_filter()
        _dispose_filter = None
    if _dispose is not None:
        _dispose()
        _dispose = None
    await service.stop()
