"""The scheduler's jobs in the database, and the change stamp every instance polls.

Every change writes the job, then a new stamp in ``KeyValue`` (``scheduler:stamp``):
an instance that sees another stamp reloads. Instances sharing a state store are
also told at once on the ``scheduler`` channel of the change feed.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from tortoise.exceptions import IntegrityError

from bot.store import register_app
from bot.store.models import KeyValue

from .core import JobSpec, job_row

register_app("scheduler", "plugins.scheduler.models", "plugins.scheduler.migrations")

from .models import JobRun, ScheduledJob  # noqa: E402 - after the app is known

STAMP_KEY = "scheduler:stamp"
CHANNEL = "scheduler"

__all__ = ["CHANNEL", "JobError", "JobRun", "ScheduledJob"]


class JobError(Exception):
    """A job operation that cannot be done (unknown name, duplicate); the message
    is shown to the user."""


async def stamp() -> str:
    row = await KeyValue.get_or_none(key=STAMP_KEY)
    return row.value if row is not None else ""


async def bump() -> str:
    value = f"{time.time_ns()}"
    await KeyValue.update_or_create(defaults={"value": value}, key=STAMP_KEY)
    return value


async def add(spec: JobSpec, created_by: str = "") -> ScheduledJob:
    try:
        job = await ScheduledJob.create(**job_row(spec, created_by))
    except IntegrityError:
        raise JobError(f"a job named {spec.name!r} exists already") from None
    await bump()
    return job


async def get(name: str) -> ScheduledJob:
    job = await ScheduledJob.get_or_none(name=name)
    if job is None:
        raise JobError(f"no job named {name[:64]!r}")
    return job


async def all_jobs() -> list[ScheduledJob]:
    return await ScheduledJob.all().order_by("name")


async def remove(name: str) -> None:
    if not await ScheduledJob.filter(name=name).delete():
        raise JobError(f"no job named {name[:64]!r}")
    await bump()


async def set_enabled(name: str, enabled: bool) -> ScheduledJob:
    job = await get(name)
    job.enabled = enabled
    if enabled:
        job.failures = 0
    await job.save(update_fields=["enabled", "failures", "updated_at"])
    await bump()
    return job


async def request_run(name: str) -> ScheduledJob:
    job = await get(name)
    job.run_requested = datetime.now(UTC)
    await job.save(update_fields=["run_requested", "updated_at"])
    await bump()
    return job


async def runs(name: str | None = None, limit: int = 20) -> list[JobRun]:
    query = JobRun.all() if name is None else JobRun.filter(job_name=name)
    return await query.order_by("-started_at").limit(limit)
