"""The scheduler's runs in-process, against SQLite and memory state, with a sender
registered here: one run per job and scheduled time (also after a "restart" that
lost the state), retries with backoff, a job paused after failures in a row with
one alert, runs later than the grace skipped, run-now."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.runtime import Runtime
from bot.send import SendError, Target, register_sender
from bot.state import MemoryState
from tests.bot.send_harness import send_runtime

__all__ = ["send_runtime"]


@pytest.fixture
def scheduler_plugin(nonebug_init: None) -> Any:
    import nonebot

    return nonebot.get_plugin("scheduler") or nonebot.load_plugin("plugins.scheduler")


@pytest.fixture
async def db(tmp_path: Path, scheduler_plugin: Any) -> AsyncIterator[None]:
    from bot.store import close_store, init_store

    await init_store(f"sqlite://{tmp_path}/sched.db")
    yield
    await close_store()


class Flaky:
    """A web sender failing its first ``failures`` sends."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.sent: list[tuple[str, str]] = []
        self.tries = 0

    async def __call__(self, target: Target, text: str) -> None:
        self.tries += 1
        if self.tries <= self.failures:
            raise SendError(f"{target}: down ({self.tries})")
        self.sent.append((str(target), text))


def service(alerts: list[str], **config: Any) -> Any:
    from plugins.scheduler.config import Config
    from plugins.scheduler.service import SchedulerService

    async def generate(job: Any) -> str:
        return "generated"

    async def alert(text: str) -> None:
        alerts.append(text)

    settings = {"scheduler_retry_backoff": 0.0, **config}
    return SchedulerService(AsyncIOScheduler(), Config(**settings), generate, alert)


async def add(name: str = "job", **extra: Any) -> Any:
    from plugins.scheduler import store
    from plugins.scheduler.core import JobSpec

    fields = {
        "name": name,
        "trigger": "interval",
        "spec": "60",
        "targets": ["web:user:alice"],
        "action": "text",
        "payload": "hello",
        **extra,
    }
    return await store.add(JobSpec(**fields))


async def test_one_run_per_scheduled_time_also_after_a_restart(
    db: None, send_runtime: Runtime
) -> None:
    from plugins.scheduler.models import JobRun

    sender = Flaky(0)
    dispose = register_sender("web", sender)
    try:
        await add()
        when = datetime.now(UTC).replace(microsecond=0)
        svc = service([])
        results = await asyncio.gather(*(svc.run_once("job", when) for _ in range(5)))
        assert (results.count("ok"), results.count(None)) == (1, 4)
        # a restart on memory state forgets the claims: the run log still knows
        send_runtime.state = MemoryState()
        assert await service([]).run_once("job", when) is None
        assert await svc.run_once("job", when + timedelta(seconds=60)) == "ok"
    finally:
        dispose()
    assert sender.sent == [("web:user:alice", "hello")] * 2
    rows = await JobRun.filter(job_name="job").order_by("scheduled_at")
    assert [(r.outcome, r.reached, r.attempts) for r in rows] == [
        ("ok", ["web:user:alice"], 1)
    ] * 2


async def test_retried_then_paused_after_failures_in_a_row_with_one_alert(
    db: None, send_runtime: Runtime
) -> None:
    from plugins.scheduler import store
    from plugins.scheduler.models import JobRun

    alerts: list[str] = []
    svc = service(alerts, scheduler_retries=2, scheduler_pause_after=2)
    sender = Flaky(2)
    dispose = register_sender("web", sender)
    try:
        await add()
        now = datetime.now(UTC)
        assert await svc.run_once("job", now) == "ok"  # third try goes through
        assert sender.tries == 3
        sender.failures = 100
        assert await svc.run_once("job", now + timedelta(seconds=1)) == "failed"
        assert (await store.get("job")).enabled
        assert await svc.run_once("job", now + timedelta(seconds=2)) == "failed"
        job = await store.get("job")
        assert (job.enabled, job.failures) == (False, 2)
        # paused: a scheduled run does nothing, no second alert
        assert await svc.run_once("job", now + timedelta(seconds=3)) is None
    finally:
        dispose()
    assert len(alerts) == 1
    assert "job 连续失败 2 次，已暂停" in alerts[0]
    assert "job failed 2 times in a row and is paused" in alerts[0]
    rows = await JobRun.filter(job_name="job").order_by("scheduled_at")
    assert [(r.outcome, r.attempts) for r in rows] == [
        ("ok", 3),
        ("failed", 3),
        ("failed", 3),
    ]
    assert "down" in rows[1].error
    await store.set_enabled("job", True)
    assert (await store.get("job")).failures == 0


async def test_late_runs_are_skipped_and_run_now_runs_once(
    db: None, send_runtime: Runtime
) -> None:
    from plugins.scheduler import store
    from plugins.scheduler.models import JobRun

    sender = Flaky(0)
    dispose = register_sender("web", sender)
    svc = service([], scheduler_misfire_grace=30.0)
    try:
        await add()
        late = datetime.now(UTC) - timedelta(seconds=31)
        await svc._fire("job", run_times=[late])
        assert await JobRun.filter(job_name="job").count() == 0
        await svc._fire("job", run_times=[late, datetime.now(UTC)])  # coalesced
        assert await JobRun.filter(job_name="job").count() == 1
        await store.request_run("job")
        await svc.sync()
        await svc.sync()  # the same request is not run twice
        for _ in range(100):
            if len(sender.sent) == 2:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)
        assert len(sender.sent) == 2
    finally:
        await svc.stop()
        dispose()


async def test_run_log_kept_log_days(db: None, send_runtime: Runtime) -> None:
    from plugins.scheduler.models import JobRun

    now = datetime.now(UTC)
    old = await JobRun.create(job_name="j", scheduled_at=now - timedelta(days=40))
    await JobRun.filter(id=old.id).update(started_at=now - timedelta(days=31))
    await JobRun.create(job_name="j", scheduled_at=now - timedelta(days=29))
    assert await service([], scheduler_log_days=30).prune() == 1
    assert await JobRun.filter(job_name="j").count() == 1


async def test_a_command_of_another_plugin(db: None, send_runtime: Runtime) -> None:
    import nonebot

    from plugins.scheduler.models import JobRun

    scheduler = nonebot.require("plugins.scheduler")

    async def weather(args: str) -> str:
        return f"{args}: sunny"

    sender = Flaky(0)
    dispose = register_sender("web", sender)
    undo = scheduler.register_command("weather", weather)
    svc = service([], scheduler_retries=0)
    try:
        await add("forecast", action="command", payload="weather 北京")
        await add("typo", action="command", payload="wether 北京")
        now = datetime.now(UTC)
        assert await svc.run_once("forecast", now) == "ok"
        assert await svc.run_once("typo", now) == "failed"
    finally:
        undo()
        dispose()
    assert sender.sent == [("web:user:alice", "北京: sunny")]
    (failed,) = await JobRun.filter(job_name="typo")
    assert "no job command 'wether' (offered: weather" in failed.error
