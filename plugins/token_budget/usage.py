"""What a user or group has used of its token budget today and this month, and
the limits that apply (read by the admin API and the ``/usage`` commands)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.state import StateStore
from bot.store.models import BudgetOverride

from .config import Config
from .core import periods_of


@dataclass(frozen=True, slots=True)
class Usage:
    kind: str
    key: str
    day_used: int
    month_used: int
    #: effective limits (0 = unlimited)
    daily: int
    monthly: int
    #: the override's own values (None: the default applies)
    override_daily: int | None
    override_monthly: int | None


def defaults(config: Config, kind: str) -> tuple[int, int]:
    if kind == "user":
        return config.token_budget_user_daily, config.token_budget_user_monthly
    return config.token_budget_group_daily, config.token_budget_group_monthly


async def usage_of(
    state: StateStore,
    config: Config,
    kind: str,
    key: str,
    *,
    override: BudgetOverride | None = None,
    now: datetime | None = None,
) -> Usage:
    """Counters are the ones the budget middleware reserves against."""
    now = now or datetime.now(ZoneInfo(config.token_budget_timezone))
    day, month, _day_end, _month_end = periods_of(now)
    day_used = int(await state.get(f"budget:{kind}:{key}:{day}") or 0)
    month_used = int(await state.get(f"budget:{kind}:{key}:{month}") or 0)
    if override is None:
        override = await BudgetOverride.get_or_none(scope_kind=kind, scope_key=key)
    d_default, m_default = defaults(config, kind)
    od = override.daily_limit if override else None
    om = override.monthly_limit if override else None
    return Usage(
        kind,
        key,
        day_used,
        month_used,
        d_default if od is None else int(od),
        m_default if om is None else int(om),
        od,
        om,
    )
