"""Jobs without NoneBot: the validated description of a job and its APScheduler
trigger. ``JobSpec`` is what the CLI, chat commands and the admin API accept."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from pydantic import BaseModel, Field, field_validator, model_validator

from bot.send import TargetError, parse_target

NAME = r"^[A-Za-z0-9_.-]{1,64}$"
MAX_PAYLOAD = 4000
MIN_INTERVAL = 1.0
MAX_TARGETS = 50


class JobSpec(BaseModel):
    """A job as given by a user: every field checked, with a clear message."""

    name: str = Field(pattern=NAME)
    trigger: Literal["cron", "interval", "date"]
    spec: str = Field(min_length=1, max_length=128)
    timezone: str = "Asia/Shanghai"
    targets: list[str] = Field(min_length=1, max_length=MAX_TARGETS)
    action: Literal["text", "prompt", "command"]
    payload: str = Field(min_length=1, max_length=MAX_PAYLOAD)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value[:64]!r}") from exc
        return value

    @field_validator("targets")
    @classmethod
    def _targets(cls, value: list[str]) -> list[str]:
        try:
            return list(dict.fromkeys(str(parse_target(t)) for t in value))
        except TargetError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("payload")
    @classmethod
    def _payload(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the text or prompt is empty")
        return value

    @model_validator(mode="after")
    def _trigger(self) -> JobSpec:
        now = datetime.now(UTC)
        trigger = build_trigger(self.trigger, self.spec, self.timezone, now)
        if trigger.get_next_fire_time(None, now) is None or (
            isinstance(trigger, DateTrigger) and trigger.run_date < now
        ):
            raise ValueError(f"{self.trigger} {self.spec[:64]!r} never fires again")
        return self


def build_trigger(kind: str, spec: str, timezone: str, anchor: datetime) -> BaseTrigger:
    """The APScheduler trigger of a job; ``ValueError`` names what is wrong."""
    zone = ZoneInfo(timezone)
    if kind == "cron":
        try:
            return CronTrigger.from_crontab(spec, timezone=zone)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"cron {spec[:64]!r}: {exc}") from None
    if kind == "interval":
        try:
            seconds = float(spec)
        except ValueError:
            raise ValueError(
                f"interval {spec[:64]!r}: not a number of seconds"
            ) from None
        if not MIN_INTERVAL <= seconds <= 366 * 86400:
            raise ValueError(f"interval: {seconds:g} s is outside 1 s .. 366 days")
        return IntervalTrigger(seconds=seconds, start_date=anchor, timezone=zone)
    if kind == "date":
        try:
            when = datetime.fromisoformat(spec)
        except ValueError:
            raise ValueError(f"date {spec[:64]!r}: not an ISO date-time") from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=zone)
        return DateTrigger(run_date=when, timezone=zone)
    raise ValueError(f"trigger {kind[:16]!r}: cron, interval or date")


def describe(kind: str, spec: str, timezone: str) -> str:
    if kind == "cron":
        return f"cron {spec} ({timezone})"
    if kind == "interval":
        return f"every {float(spec):g} s"
    return f"at {spec}"


def backoff(base: float, attempt: int) -> float:
    """Seconds before retry ``attempt`` (0-based): base, 2*base, 4*base ... <= 1 h."""
    return float(min(base * (2**attempt), 3600.0))


def first_line(text: str, limit: int = 300) -> str:
    return re.sub(r"\s+", " ", text).strip()[:limit]


def job_row(spec: JobSpec, created_by: str) -> dict[str, Any]:
    """The columns of a new job (an interval job's grid starts now)."""
    return {**spec.model_dump(), "anchor": datetime.now(UTC), "created_by": created_by}
