"""Settings of the scheduler (``plugins: {scheduler: {...}}``)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Config(BaseModel):
    #: the time zone of cron jobs that name none
    scheduler_timezone: str = "Asia/Shanghai"
    #: seconds between checks of the database for changes made by other processes
    #: (the CLI); instances sharing the state also learn them from the change feed
    scheduler_poll_interval: float = Field(default=1.0, gt=0)
    #: a run later than this many seconds is skipped (logged as missed)
    scheduler_misfire_grace: float = Field(default=60.0, gt=0)
    #: tries after a failed run, waiting retry_backoff * 2**n seconds between them
    scheduler_retries: int = Field(default=2, ge=0, le=10)
    scheduler_retry_backoff: float = Field(default=5.0, ge=0)
    #: a job is paused (and superusers alerted) after this many failed runs in a row
    scheduler_pause_after: int = Field(default=5, ge=1)
    #: days the run log is kept
    scheduler_log_days: int = Field(default=30, ge=1)
    #: proactive messages per target within send_window seconds (every sender)
    scheduler_send_limit: int = Field(default=60, ge=1)
    scheduler_send_window: float = Field(default=60.0, gt=0)
