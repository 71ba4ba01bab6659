"""FreeChat's policy for every plugin's matchers and sends.

:func:`guard` is a NoneBot run-preprocessor: before any matcher runs (a community
plugin's, a built-in one's), a banned sender, a plugin switched off for the group or
everywhere (``PluginSwitch`` rows, as ``/plugin disable`` writes them) and a sender
over the rate limit stop it (``IgnoredException``: NoneBot skips that matcher).
Superusers pass. The chat matcher is left to the chain, which checks the same
things and answers with reasons; catch-all listeners (``on_message()`` without a
rule) are not counted against the rate limit, only matchers that picked the
message.

:func:`send_gate` limits what plugins send per chat (``rate_limit_plugin_sends`` per
``rate_limit_plugin_sends_window`` seconds), through ``bot.outbound``.
"""

from __future__ import annotations

import logging
from typing import Any

from nonebot.adapters import Bot, Event
from nonebot.exception import IgnoredException
from nonebot.matcher import Matcher
from tortoise.exceptions import BaseORMException

from bot.commands import registered_matcher
from bot.dispatch import chat_matcher
from bot.outbound import SendInfo
from bot.platform import is_superuser, platform_key
from bot.runtime import get_runtime, has_runtime

from .access import AccessService
from .config import Config
from .core import check, limits_for

log = logging.getLogger(__name__)


def sender_keys(bot: Bot, event: Event) -> tuple[str, str | None] | None:
    """``(user key, group key)`` of ``event``'s sender, None when it has none."""
    try:
        user_id = event.get_user_id()
    except (ValueError, NotImplementedError):
        return None
    platform = platform_key(bot.adapter.get_name())
    group = getattr(event, "group_id", None)
    group_key = f"{platform}:{group}" if group not in (None, "") else None
    return f"{platform}:{user_id}", group_key


def plugin_of(matcher: Matcher) -> str:
    """The switch key of ``matcher``'s plugin: the last part of its id
    (``nonebot_plugin_alconna:echo`` -> ``echo``), as ``bot.plugin_store`` writes."""
    name = str(matcher.plugin_id or matcher.module_name or "")
    return name.rsplit(":", 1)[-1].rsplit(".", 1)[-1]


def make_guard(service: AccessService, config: Config) -> Any:
    async def guard(matcher: Matcher, bot: Bot, event: Event) -> None:
        if type(matcher) is chat_matcher() or not has_runtime():
            return  # the chain checks the chat's messages and answers with reasons
        keys = sender_keys(bot, event)
        if keys is None:
            return
        user_key, group_key = keys
        platform, _, user_id = user_key.partition(":")
        if is_superuser(bot, platform, user_id):
            return
        plugin = plugin_of(matcher)
        await service.start()
        try:
            banned = await service.banned(user_key)
            enabled = await service.plugin_enabled(plugin, group_key)
        except (BaseORMException, OSError) as exc:
            log.warning("access check skipped for %s (%s)", plugin, exc)
            banned, enabled = False, True
        if banned:
            raise IgnoredException(f"{user_key} is banned")
        if not enabled:
            raise IgnoredException(f"plugin {plugin} is off here")
        picked = matcher.temp or bool(matcher.rule.checkers)
        if picked and type(matcher) is not registered_matcher():
            limits = limits_for(
                user_key,
                group_key,
                user=(config.rate_limit_user, config.rate_limit_user_window),
                group=(config.rate_limit_group, config.rate_limit_group_window),
                everyone=(config.rate_limit_global, config.rate_limit_global_window),
            )
            refusal = await check(get_runtime().state, limits)
            if refusal is not None:
                raise IgnoredException(f"rate limit ({refusal.scope}) for {user_key}")

    return guard


def make_send_gate(config: Config) -> Any:
    async def send_gate(info: SendInfo) -> bool:
        if config.rate_limit_plugin_sends <= 0 or not has_runtime():
            return True
        result = await get_runtime().state.hit(
            f"rl:sends:{info.chat}",
            config.rate_limit_plugin_sends,
            config.rate_limit_plugin_sends_window,
        )
        return bool(result.allowed)

    return send_gate
