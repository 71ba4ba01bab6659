"""Token budgets: daily and monthly quotas per user and per group.

Registers a middleware at :data:`bot.orders.TOKEN_BUDGET`: it trims the history to
the model's context window, reserves the prompt plus ``max_tokens`` before the call
and settles to the real usage after (see :mod:`.core`). With Redis as the shared
state, quotas hold across every instance; when Redis is down, requests are refused
(fail closed) with a clear message.
"""

from __future__ import annotations

from collections.abc import Callable

from nonebot import get_driver, get_plugin_config
from nonebot.plugin import PluginMetadata

from bot import orders
from bot.chain import chain
from bot.runtime import get_runtime, has_runtime

from .config import Config
from .middleware import Overrides, make_middleware, publish_budget_change
from .tokens import TokenCounter

__all__ = ["Config", "publish_budget_change"]

__plugin_meta__ = PluginMetadata(
    name="token_budget",
    description="Daily and monthly token quotas per user and group; prompt trimming",
    usage="Defaults in plugins.token_budget; per user/group: /budget or the dashboard.",
    type="application",
    config=Config,
)

config = get_plugin_config(Config)
overrides = Overrides(config.token_budget_override_cache)


def _endpoint() -> str:
    """The first inference endpoint now (the registry may change at run time)."""
    if not has_runtime():
        return ""
    endpoints = get_runtime().registry.endpoints()
    return endpoints[0].base_url if endpoints else ""


def _api_key() -> str:
    return get_runtime().settings.llm.api_key if has_runtime() else ""


counter = TokenCounter(
    mode=config.token_budget_tokenizer,
    tokenizer_path=config.token_budget_tokenizer_path,
    base_url=_endpoint,
)
_dispose: Callable[[], None] | None = None
driver = get_driver()


@driver.on_startup
async def _start() -> None:
    global _dispose
    counter.api_key = _api_key()
    _dispose = chain.register(
        make_middleware(config, counter, overrides),
        order=orders.TOKEN_BUDGET,
        name="token_budget",
    )


@driver.on_shutdown
async def _stop() -> None:
    global _dispose
    if _dispose is not None:
        _dispose()
        _dispose = None
    await overrides.stop()
    await counter.close()
