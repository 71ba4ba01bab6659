"""Token budgets without NoneBot: quota keys per day and month, atomic reservations
with roll-back, settling to real usage, and trimming the prompt to the context
window.

A request reserves ``prompt + max_tokens`` against every quota that applies (user and
group, daily and monthly) with the state store's atomic ``reserve``; if one refuses,
the ones already taken are given back. After the answer the reservation is settled
to the real usage (never above what was reserved, so concurrent requests, on any
number of instances sharing one Redis, can never spend more than a quota), or
released entirely when the model failed before answering.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.context import PromptMessage
from bot.state import StateStore

log = logging.getLogger(__name__)

#: extra seconds a counter lives after its period ended
KEY_SLACK = 2 * 86400


@dataclass(frozen=True, slots=True)
class Quota:
    """One limit on one counter: ``scope`` is user/group, ``period`` day/month."""

    scope: str
    scope_key: str
    period: str
    limit: int
    key: str
    ttl: float


@dataclass(frozen=True, slots=True)
class Limits:
    """Daily and monthly limits (0 = unlimited)."""

    daily: int = 0
    monthly: int = 0


def _period_end(now: datetime, period: str) -> datetime:
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "day":
        return day + timedelta(days=1)
    first = day.replace(day=1)
    return (first + timedelta(days=32)).replace(day=1)


#: a day's calendar in one time zone: the day and month stamps in counter keys, and
#: when the day and the month end (POSIX timestamps)
Periods = tuple[str, str, float, float]


def periods_of(local: datetime) -> Periods:
    return (
        local.strftime("%Y%m%d"),
        local.strftime("%Y%m"),
        _period_end(local, "day").timestamp(),
        _period_end(local, "month").timestamp(),
    )


def build_quotas(
    user_key: str,
    group_key: str | None,
    user: Limits,
    group: Limits,
    periods: Periods,
    now: float,
) -> list[Quota]:
    """The quotas of one request; a counter lives until its period ends, plus
    :data:`KEY_SLACK`."""
    day, month, day_end, month_end = periods
    out = []
    for scope, key, limits in (("user", user_key, user), ("group", group_key, group)):
        if key is None:
            continue
        for period, limit, stamp, end in (
            ("day", limits.daily, day, day_end),
            ("month", limits.monthly, month, month_end),
        ):
            if limit > 0:
                out.append(
                    Quota(
                        scope, key, period, limit,
                        f"budget:{scope}:{key}:{stamp}", end - now + KEY_SLACK,
                    )
                )  # fmt: skip
    return out


def quotas_for(
    user_key: str,
    group_key: str | None,
    user: Limits,
    group: Limits,
    *,
    now: datetime | None = None,
    tz: str = "UTC",
) -> list[Quota]:
    """Every quota one request counts against (unlimited ones left out)."""
    now = now or datetime.now(ZoneInfo(tz))
    return build_quotas(
        user_key, group_key, user, group, periods_of(now), now.timestamp()
    )


class QuotaCache:
    """:func:`quotas_for` without the calendar work per message: the day's stamps
    and ends are computed once per day and time zone.

    Nothing is kept per user: a cache per user (an earlier version) grew to tens of
    thousands of long-lived objects, and every full garbage collection walked them,
    pausing the event loop for tens of milliseconds.
    """

    def __init__(self) -> None:
        self._periods: dict[str, Periods] = {}

    def get(
        self,
        user_key: str,
        group_key: str | None,
        user: Limits,
        group: Limits,
        *,
        tz: str = "UTC",
    ) -> list[Quota]:
        now = time.time()
        periods = self._periods.get(tz)
        if periods is None or now >= periods[2]:
            periods = self._periods[tz] = periods_of(
                datetime.fromtimestamp(now, ZoneInfo(tz))
            )
        return build_quotas(user_key, group_key, user, group, periods, now)


@dataclass
class Reservation:
    """Tokens held against quotas until :meth:`settle`."""

    state: StateStore
    quotas: list[Quota]
    amount: int
    settled: bool = False

    async def settle(self, used: int) -> int:
        """Charge ``used`` tokens (at most the reserved amount); return the charge."""
        if self.settled:
            return 0
        self.settled = True
        charge = max(min(used, self.amount), 0)
        if used > self.amount:
            log.warning("usage %d above the reservation %d", used, self.amount)
        delta = charge - self.amount
        if delta:
            for q in self.quotas:
                await self.state.incr(q.key, delta, q.ttl)
        return charge

    async def release(self) -> None:
        await self.settle(0)


@dataclass(frozen=True, slots=True)
class Refused:
    """The quota that had no room left."""

    quota: Quota
    used: int


async def reserve(
    state: StateStore, quotas: Sequence[Quota], amount: int
) -> Reservation | Refused:
    """Reserve ``amount`` on every quota, or none (rolling back on refusal).

    Raises :class:`~bot.exceptions.StateError` when the store is down (Redis fails
    closed); quotas reserved before the failure are given back when possible.
    """
    taken: list[Quota] = []
    try:
        for q in quotas:
            result = await state.reserve(q.key, amount, q.limit, q.ttl)
            if not result.ok:
                await _give_back(state, taken, amount)
                return Refused(q, result.used)
            taken.append(q)
    except BaseException:
        await _give_back(state, taken, amount)
        raise
    return Reservation(state, list(quotas), amount)


async def _give_back(state: StateStore, quotas: list[Quota], amount: int) -> None:
    for q in quotas:
        try:
            await state.incr(q.key, -amount, q.ttl)
        except Exception as exc:  # the store is down: the counter stays high
            log.warning("could not give back %d on %s: %s", amount, q.key, exc)


CountFn = Callable[[list[dict[str, str]]], Awaitable[int]]
#: a count already known (cached), without waiting; None when it is not
PeekFn = Callable[[list[dict[str, str]]], int | None]


@dataclass
class Trimmed:
    history: list[PromptMessage]
    prompt_tokens: int
    dropped: int = 0
    #: the system prompt and the message alone do not fit
    too_long: bool = False
    counts: list[int] = field(default_factory=list)


async def trim_history(
    system: str | None,
    history: list[PromptMessage],
    text: str,
    budget: int,
    count: CountFn,
    peek: PeekFn | None = None,
) -> Trimmed:
    """Drop the oldest history messages until the prompt fits ``budget`` tokens.

    The system prompt and the new message are always kept. Messages are counted one
    by one; counts ``peek`` already knows (a counter's cache: old turns) are taken
    as they are, the others are counted concurrently.
    """
    base: list[dict[str, str]] = []
    if system:
        base.append({"role": "system", "content": system})
    base.append({"role": "user", "content": text})
    parts = [base, *([m.as_dict()] for m in history)]
    known = [peek(part) if peek is not None else None for part in parts]
    missing = [i for i, n in enumerate(known) if n is None]
    if len(missing) == 1:
        known[missing[0]] = await count(parts[missing[0]])
    elif missing:
        found = await asyncio.gather(*(count(parts[i]) for i in missing))
        for i, n in zip(missing, found, strict=True):
            known[i] = n
    fixed, *counts = (int(n or 0) for n in known)
    total = fixed + sum(counts)
    start = 0
    while total > budget and start < len(history):
        total -= counts[start]
        start += 1
    # keep the history starting on a user message
    while start < len(history) and history[start].role != "user":
        total -= counts[start]
        start += 1
    kept = history[start:]
    return Trimmed(kept, total, start, fixed > budget, counts[start:])
