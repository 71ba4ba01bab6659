"""The scheduler's tables: jobs (what, when, where) and their run log.

A run row is written before a run starts, unique per job and scheduled time: the
database is the last word on "this run happened" across instances and restarts.
"""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class ScheduledJob(Model):
    """One scheduled job."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=64, unique=True)
    #: ``cron``, ``interval`` or ``date``
    trigger = fields.CharField(max_length=8)
    #: a crontab line, a number of seconds, or an ISO date-time
    spec = fields.CharField(max_length=128)
    timezone = fields.CharField(max_length=64, default="Asia/Shanghai")
    #: target strings (``bot.send``)
    targets: fields.Field[list[str]] = fields.JSONField(default=list)
    #: ``text``, ``prompt`` or ``command`` (another plugin's, see ``actions``)
    action = fields.CharField(max_length=8)
    payload = fields.TextField()
    enabled = fields.BooleanField(default=True)
    #: consecutive failed runs (reset by a success or a resume)
    failures = fields.IntField(default=0)
    #: interval jobs run at anchor + k * interval on every instance
    anchor = fields.DatetimeField()
    #: a "run now" request (the instance that claims it runs it once)
    run_requested = fields.DatetimeField(null=True)
    created_by = fields.CharField(max_length=191, default="")
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "scheduled_jobs"
        table_description = "A scheduled message: trigger, targets and action."


class JobRun(Model):
    """One run of a job (the run log)."""

    id = fields.BigIntField(primary_key=True)
    job_name = fields.CharField(max_length=64, db_index=True)
    scheduled_at = fields.DatetimeField()
    started_at = fields.DatetimeField(auto_now_add=True, db_index=True)
    ended_at = fields.DatetimeField(null=True)
    #: ``running``, ``ok``, ``failed``
    outcome = fields.CharField(max_length=16, default="running")
    error = fields.TextField(default="")
    reached: fields.Field[list[str]] = fields.JSONField(default=list)
    attempts = fields.IntField(default=0)
    instance = fields.CharField(max_length=32, default="")

    class Meta:
        table = "scheduled_job_runs"
        unique_together = (("job_name", "scheduled_at"),)
        table_description = "The run log of scheduled jobs."
