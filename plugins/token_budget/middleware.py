"""The token-budget middleware (order TOKEN_BUDGET, just outside the model).

Trims the history to the context window, reserves ``prompt + max_tokens`` against
the user's and group's daily and monthly quotas, and wraps the answer so the
reservation is settled to the real usage when the stream ends, fails or is
stopped (in the wrapper's ``finally``, shielded from cancellation).

Faults: the shared state (Redis) down fails closed (no reservation: the message is
answered with ``token_budget_unavailable_message``); the database down while the
per-user overrides are read fails to the configured limits. Each logs one line per
30 s, not one per message.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator

from bot.chain import Middleware, NextFn
from bot.context import ChatContext, ReplyChunk
from bot.exceptions import StateError
from bot.metrics import BUDGET_REFUSALS
from bot.runtime import get_runtime
from bot.state import FeedWatcher, StateStore
from bot.store.errors import DB_ERRORS
from bot.store.models import BudgetOverride
from bot.throttle import ThrottledLog

from .config import Config
from .core import (
    Limits,
    QuotaCache,
    Refused,
    Reservation,
    reserve,
    trim_history,
)
from .tokens import TokenCounter

log = logging.getLogger(__name__)

CHANNEL = "budgets"


async def publish_budget_change(
    kind: str, key: str, *, state: StateStore | None = None
) -> None:
    await (state or get_runtime().state).publish(CHANNEL, {"kind": kind, "key": key})


class Overrides:
    """``BudgetOverride`` rows, cached whole (they are few: one query per cache
    period, not one per new user) and dropped on the ``budgets`` feed."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._table: dict[tuple[str, str], tuple[int | None, int | None]] | None = None
        self._expires = 0.0
        self._feed = FeedWatcher(CHANNEL, lambda _message: self._drop())
        #: one line per 30 s while the database is down, not one per message
        self._db_down = ThrottledLog(log)

    def _drop(self) -> None:
        self._table = None

    async def start(self, state: StateStore) -> None:
        await self._feed.start(state)

    async def stop(self) -> None:
        await self._feed.stop()

    async def limits(self, kind: str, key: str, default: Limits) -> Limits:
        now = time.monotonic()
        if self._table is None or self._expires <= now:
            try:
                rows = await BudgetOverride.all().values_list(
                    "scope_kind", "scope_key", "daily_limit", "monthly_limit"
                )
            except DB_ERRORS as exc:
                # the database is down: the configured limits apply meanwhile
                self._db_down.log(
                    logging.WARNING,
                    "budget overrides unavailable, default limits apply (%s: %s)",
                    type(exc).__name__,
                    exc,
                )
                return default
            self._table = {(str(k), str(s)): (d, m) for k, s, d, m in rows}
            self._expires = now + self.ttl
        row = self._table.get((kind, key))
        if row is None:
            return default
        daily, monthly = row
        return Limits(
            default.daily if daily is None else int(daily),
            default.monthly if monthly is None else int(monthly),
        )


async def settle_reply(
    stream: AsyncIterator[ReplyChunk],
    ctx: ChatContext,
    reservation: Reservation,
    prompt_tokens: int,
    counter: TokenCounter,
) -> AsyncIterator[ReplyChunk]:
    """Pass the answer through; settle the reservation however it ends."""
    seen: list[str] = []
    try:
        async for chunk in stream:
            seen.append(chunk.text)
            seen.append(chunk.reasoning)
            yield chunk
    finally:
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()
        await asyncio.shield(_settle(ctx, reservation, prompt_tokens, counter, seen))


async def _settle(
    ctx: ChatContext,
    reservation: Reservation,
    prompt_tokens: int,
    counter: TokenCounter,
    seen: list[str],
) -> None:
    usage = ctx.usage
    failed = ctx.extra.get("finish_reason") == "error"
    try:
        if usage.completion_tokens or usage.prompt_tokens:
            used = usage.total_tokens
        elif failed:
            used = 0  # the model never answered; the error text is ours
        else:
            used = prompt_tokens + await counter.count_text("".join(seen))
        charged = await reservation.settle(used)
        ctx.extra["tokens_charged"] = charged
    except StateError as exc:
        log.warning("settling %s failed (kept the reservation): %s", ctx.trace_id, exc)


def make_middleware(
    config: Config, counter: TokenCounter, overrides: Overrides
) -> Middleware:
    quota_cache = QuotaCache()
    #: one line per 30 s while Redis is down, not one per message
    state_down = ThrottledLog(log)

    async def token_budget(ctx: ChatContext, call_next: NextFn) -> None:
        rt = get_runtime()
        if ctx.is_admin and config.token_budget_exempt_admins:
            await call_next()
            return
        max_tokens = ctx.max_tokens or rt.settings.llm.max_tokens
        window = rt.settings.llm.context_window - max_tokens
        if config.token_budget_trim:
            trimmed = await trim_history(
                ctx.system_prompt,
                ctx.history,
                ctx.text,
                window,
                counter.count,
                counter.known,
            )
            if trimmed.too_long:
                ctx.respond(config.token_budget_too_long_message, reason="too_long")
                return
            if trimmed.dropped:
                log.info("dropped %d old messages of %s", trimmed.dropped, ctx.trace_id)
            ctx.history = trimmed.history
            # the prompt's count is the sum of its parts' (each part counted with
            # its own template: a few tokens high, never low); the whole prompt is
            # new with every message, so counting it again would never hit the cache
            prompt_tokens = trimmed.prompt_tokens
        else:
            prompt_tokens = await counter.count(ctx.prompt())
        ctx.extra["prompt_tokens"] = prompt_tokens
        await overrides.start(rt.state)
        user = await overrides.limits(
            "user",
            ctx.user_key,
            Limits(config.token_budget_user_daily, config.token_budget_user_monthly),
        )
        group = Limits(
            config.token_budget_group_daily, config.token_budget_group_monthly
        )
        if ctx.group_key:
            group = await overrides.limits("group", ctx.group_key, group)
        quotas = quota_cache.get(
            ctx.user_key, ctx.group_key, user, group, tz=config.token_budget_timezone
        )
        try:
            result = await reserve(rt.state, quotas, prompt_tokens + max_tokens)
        except StateError as exc:
            state_down.log(logging.ERROR, "budget reservation failed closed: %s", exc)
            ctx.respond(
                config.token_budget_unavailable_message, reason="budget_unavailable"
            )
            return
        if isinstance(result, Refused):
            q = result.quota
            log.info("budget %s used up (%d/%d)", q.key, result.used, q.limit)
            BUDGET_REFUSALS.labels(ctx.platform, q.scope).inc()
            ctx.respond(
                config.token_budget_message.replace("{scope}", q.scope).replace(
                    "{period}", q.period
                ),
                reason="budget",
            )
            return
        ctx.max_tokens = max_tokens
        try:
            await call_next()
        except BaseException:
            await result.release()
            raise
        if ctx.stopped_by is not None:
            await result.release()
            return
        ctx.reply = settle_reply(ctx.reply, ctx, result, prompt_tokens, counter)

    return token_budget
