"""The running scheduler: database jobs on an APScheduler ``AsyncIOScheduler``.

- Jobs are read from the database at start and again whenever the change stamp
  moves (polled every ``poll_interval`` seconds, so a CLI in another process is seen)
  or the ``scheduler`` channel of the change feed says so (every instance at once).
- Every instance schedules every job; for each run, the first instance to claim
  ``job + scheduled time`` in the shared state runs it, and the run log row (unique
  per job and scheduled time) is the durable second check, so a restart in the
  middle of a run never runs it again.
- A run later than ``misfire_grace`` is skipped; runs that piled up are coalesced
  into one; a failed run is retried with backoff; after ``pause_after`` failed runs
  in a row the job is paused and superusers are alerted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.executors.asyncio import AsyncIOExecutor
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from prometheus_client import Counter, Histogram
from tortoise.exceptions import BaseORMException, IntegrityError

from bot.runtime import get_runtime
from bot.send import SendError, send
from bot.state import FeedWatcher

from . import store
from .actions import run_command
from .config import Config
from .core import backoff, build_trigger, first_line
from .models import JobRun, ScheduledJob

log = logging.getLogger("freechat.scheduler")

RUNS = Counter("freechat_scheduler_runs_total", "Scheduled runs", ["outcome"])
LATENESS = Histogram(
    "freechat_scheduler_lateness_seconds",
    "How late a scheduled run started",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
)
PREFIX = "freechat:"
#: seconds between two prunings of the run log
PRUNE_EVERY = 6 * 3600.0
EXECUTOR = "freechat"

#: ``(job) -> text``: answers a prompt job through the chain
Generate = Callable[[ScheduledJob], Awaitable[str]]
#: ``(text) -> None``: tells superusers (a paused job)
Alert = Callable[[str], Awaitable[None]]


class RunTimesExecutor(AsyncIOExecutor):
    """Runs our jobs with the scheduled times the stock executor keeps to itself
    (the claim is per scheduled time); other jobs run the stock way."""

    def _do_submit_job(self, job: Any, run_times: list[datetime]) -> None:
        if not job.id.startswith(PREFIX):
            super()._do_submit_job(job, run_times)
            return

        def done(f: asyncio.Future[Any]) -> None:
            self._pending_futures.discard(f)
            try:
                f.result()
            except BaseException:
                self._run_job_error(job.id, *sys.exc_info()[1:])
            else:
                self._run_job_success(job.id, [])

        task = self._eventloop.create_task(job.func(*job.args, run_times=run_times))
        task.add_done_callback(done)
        self._pending_futures.add(task)


class SchedulerService:
    def __init__(
        self,
        scheduler: AsyncIOScheduler,
        config: Config,
        generate: Generate,
        alert: Alert,
    ) -> None:
        self.scheduler = scheduler
        self.config = config
        self.generate = generate
        self.alert = alert
        self._stamp: str | None = None
        self._signatures: dict[str, tuple[Any, ...]] = {}
        self._requests: dict[str, datetime] = {}
        self._lock = asyncio.Lock()
        self._feed = FeedWatcher(store.CHANNEL, self._changed, coalesce=True)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._poller: asyncio.Task[None] | None = None

    # -- life cycle ------------------------------------------------------------------
    def install(self) -> None:
        """Add our executor (before the scheduler starts)."""
        if EXECUTOR not in self.scheduler._executors:
            self.scheduler.add_executor(RunTimesExecutor(), alias=EXECUTOR)

    async def start(self) -> None:
        self.install()
        await self._feed.start(get_runtime().state)
        await self.sync()
        self._poller = asyncio.create_task(self._poll(), name="scheduler-poll")
        self._spawn(self.prune())

    async def stop(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
        await self._feed.stop()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)
        for name in list(self._signatures):
            self._unschedule(name)

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _poll(self) -> None:
        pruned = time.monotonic()
        while True:
            await asyncio.sleep(self.config.scheduler_poll_interval)
            if time.monotonic() - pruned > PRUNE_EVERY:
                pruned = time.monotonic()
                self._spawn(self.prune())
            try:
                if await store.stamp() != self._stamp:
                    await self.sync()
            except (BaseORMException, OSError) as exc:
                log.warning("scheduler: reading the job list failed: %s", exc)
            except Exception:  # keep polling: the next change may apply
                log.exception("scheduler: applying the job list failed")

    async def _changed(self, message: dict[str, Any]) -> None:
        await self.sync()

    async def changed(self) -> None:
        """After a change made in this process: tell every instance."""
        await get_runtime().state.publish(store.CHANNEL, {"op": "changed"})
        await self.sync()

    # -- the job list ----------------------------------------------------------------
    async def sync(self) -> None:
        """Make the scheduler's jobs match the database."""
        async with self._lock:
            self._stamp = await store.stamp()
            jobs = {job.name: job for job in await store.all_jobs()}
            for name in set(self._signatures) - set(jobs):
                self._unschedule(name)
            for job in jobs.values():
                self._schedule(job)
                requested = job.run_requested
                if requested is not None and self._requests.get(job.name) != requested:
                    first = job.name not in self._requests
                    self._requests[job.name] = requested
                    age = datetime.now(UTC) - requested
                    if not first or age < timedelta(seconds=60):
                        self._spawn(self.run_once(job.name, requested, forced=True))

    def _schedule(self, job: ScheduledJob) -> None:
        signature = (
            job.trigger,
            job.spec,
            job.timezone,
            job.anchor,
            job.enabled,
        )
        if self._signatures.get(job.name) == signature:
            return
        self._unschedule(job.name)
        self._signatures[job.name] = signature
        if not job.enabled:
            return
        try:
            trigger = build_trigger(job.trigger, job.spec, job.timezone, job.anchor)
        except (ValueError, KeyError) as exc:  # a row written by hand, a lost zone
            log.error("scheduler: job %s has a bad trigger: %s", job.name, exc)
            return
        self.scheduler.add_job(
            self._fire,
            trigger=trigger,
            args=[job.name],
            id=PREFIX + job.name,
            name=job.name,
            executor=EXECUTOR,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=None,
            replace_existing=True,
        )

    def _unschedule(self, name: str) -> None:
        self._signatures.pop(name, None)
        with contextlib.suppress(Exception):  # JobLookupError: already gone
            self.scheduler.remove_job(PREFIX + name)

    def plugin_jobs(self) -> list[dict[str, Any]]:
        """Jobs other plugins added to the shared scheduler (not ours, not kept)."""
        return [
            {
                "id": job.id,
                "name": job.name,
                "trigger": str(job.trigger),
                "next_run": job.next_run_time.isoformat()
                if job.next_run_time
                else None,
            }
            for job in self.scheduler.get_jobs()
            if not job.id.startswith(PREFIX)
        ]

    def next_run(self, name: str) -> datetime | None:
        job = self.scheduler.get_job(PREFIX + name)
        return job.next_run_time if job is not None else None

    # -- runs ------------------------------------------------------------------------
    async def _fire(
        self, name: str, *, run_times: list[datetime] | None = None
    ) -> None:
        if not run_times:
            return  # only our executor runs this, and it always passes the times
        scheduled = run_times[-1]
        lateness = (datetime.now(UTC) - scheduled).total_seconds()
        if lateness > self.config.scheduler_misfire_grace:
            RUNS.labels("missed").inc()
            log.warning("scheduler: %s missed its run at %s", name, scheduled)
            return
        await self.run_once(name, scheduled, lateness=max(0.0, lateness))

    async def run_once(
        self,
        name: str,
        scheduled: datetime,
        *,
        forced: bool = False,
        lateness: float | None = None,
    ) -> str | None:
        """Run ``name`` for ``scheduled`` unless another instance (or this one
        before a restart) did; return the outcome, or None when not run here."""
        scheduled = scheduled.astimezone(UTC)
        rt = get_runtime()
        key = f"scheduler:run:{name}:{scheduled.timestamp():.6f}"
        if not await rt.state.claim(key, 86400.0):
            return None
        job = await ScheduledJob.get_or_none(name=name)
        if job is None or not (job.enabled or forced):
            return None
        try:
            run = await JobRun.create(
                job_name=name, scheduled_at=scheduled, instance=rt.instance_id
            )
        except IntegrityError:
            return None  # run already (another instance, or before a restart)
        if lateness is not None:
            LATENESS.observe(lateness)
        reached, error, attempts = await self._attempts(job)
        outcome = "failed" if error else "ok"
        RUNS.labels(outcome).inc()
        run.ended_at = datetime.now(UTC)
        run.outcome, run.error, run.reached, run.attempts = (
            outcome,
            error,
            reached,
            attempts,
        )
        await run.save()
        await self._count(job, failed=bool(error), error=error)
        return outcome

    async def _text(self, job: ScheduledJob) -> str:
        if job.action == "text":
            return job.payload
        if job.action == "command":
            return await run_command(job.payload)
        return await self.generate(job)

    async def _attempts(self, job: ScheduledJob) -> tuple[list[str], str, int]:
        reached: list[str] = []
        text: str | None = None
        error = ""
        attempts = 0
        for attempt in range(self.config.scheduler_retries + 1):
            attempts = attempt + 1
            error = ""
            try:
                if text is None:
                    text = await self._text(job)
                for target in job.targets:
                    if target in reached:
                        continue
                    try:
                        await send(target, text)
                        reached.append(target)
                    except SendError as exc:
                        error = f"{error}; {exc}" if error else str(exc)
            except Exception as exc:  # a model or chain failure: retried like a send
                log.exception("scheduler: job %s failed", job.name)
                error = f"{type(exc).__name__}: {exc}"
            if not error:
                break
            if attempt < self.config.scheduler_retries:
                await asyncio.sleep(
                    backoff(self.config.scheduler_retry_backoff, attempt)
                )
        if error:
            log.warning("scheduler: job %s failed: %s", job.name, first_line(error))
        return reached, first_line(error, 2000), attempts

    async def _count(self, job: ScheduledJob, *, failed: bool, error: str) -> None:
        if not failed:
            if job.failures:
                await ScheduledJob.filter(id=job.id).update(failures=0)
            return
        job.failures += 1
        await ScheduledJob.filter(id=job.id).update(failures=job.failures)
        if job.failures >= self.config.scheduler_pause_after and job.enabled:
            await store.set_enabled(job.name, False)
            await self.changed()
            await self.alert(
                f"定时任务 {job.name} 连续失败 {job.failures} 次，已暂停：{error[:200]}\n"
                f"Scheduled job {job.name} failed {job.failures} times in a row and "
                f"is paused: {error[:200]}"
            )

    async def prune(self) -> int:
        """Drop run log rows older than ``log_days``."""
        cutoff = datetime.now(UTC) - timedelta(days=self.config.scheduler_log_days)
        try:
            return int(await JobRun.filter(started_at__lt=cutoff).delete())
        except (BaseORMException, OSError) as exc:
            log.warning("scheduler: pruning the run log failed: %s", exc)
            return 0
