"""The rate-limit middleware (order RATE_LIMIT)."""

from __future__ import annotations

import logging

from bot.chain import Middleware, NextFn
from bot.context import ChatContext
from bot.runtime import get_runtime

from .config import Config
from .core import check, format_refusal, limits_for

log = logging.getLogger(__name__)


def make_rate_limit_middleware(config: Config) -> Middleware:
    async def rate_limit(ctx: ChatContext, call_next: NextFn) -> None:
        if not (ctx.is_admin and config.rate_limit_exempt_admins):
            limits = limits_for(
                ctx.user_key,
                ctx.group_key,
                user=(config.rate_limit_user, config.rate_limit_user_window),
                group=(config.rate_limit_group, config.rate_limit_group_window),
                everyone=(config.rate_limit_global, config.rate_limit_global_window),
            )
            state = get_runtime().state
            refusal = await check(state, limits)
            if refusal is not None:
                log.info("rate limit (%s) for %s", refusal.scope, ctx.user_key)
                ctx.extra["retry_after"] = refusal.seconds
                # tell each user once per wait, so a flood is not answered by one
                told = not config.rate_limit_notify_once or await state.claim(
                    f"rl:told:{ctx.user_key}", refusal.seconds
                )
                text = format_refusal(config.rate_limit_message, refusal)
                ctx.respond(text if told else "", reason="rate_limited")
                return
        await call_next()

    return rate_limit
