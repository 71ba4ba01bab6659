"""Admin API of the scheduler: ``/api/admin/schedules``.

Admins only (a signed-in user with ``is_admin``); changes need the CSRF header like
every other change. Jobs are the scheduler plugin's (``JobSpec`` is the body of a
new one); "plugin jobs" are those community plugins added to the shared scheduler
(listed, not kept). Answers 404 while the scheduler plugin is off.
"""

from __future__ import annotations

from typing import Annotated, Any

import nonebot
from fastapi import APIRouter, Depends, HTTPException, Response
from pydantic import ValidationError

from bot import auth

from .api import csrf_session, current_session

router = APIRouter(prefix="/api/admin/schedules", tags=["admin"])


def _admin(session: auth.Session) -> auth.Session:
    if not session.user.is_admin:
        raise HTTPException(403, "admins only")
    return session


async def admin_session(
    session: Annotated[auth.Session, Depends(current_session)],
) -> auth.Session:
    return _admin(session)


async def admin_change(
    session: Annotated[auth.Session, Depends(csrf_session)],
) -> auth.Session:
    return _admin(session)


def _plugin() -> Any:
    plugin = nonebot.get_plugin("scheduler")
    if plugin is None or plugin.module is None:
        raise HTTPException(404, "the scheduler plugin is off")
    return plugin.module


def _job(job: Any, service: Any, last: Any = None) -> dict[str, Any]:
    nxt = service.next_run(job.name)
    return {
        "name": job.name,
        "trigger": job.trigger,
        "spec": job.spec,
        "timezone": job.timezone,
        "targets": job.targets,
        "action": job.action,
        "payload": job.payload,
        "enabled": job.enabled,
        "failures": job.failures,
        "next_run": nxt.isoformat() if nxt else None,
        "created_by": job.created_by,
        "last_run": last.started_at.isoformat() if last else None,
        "last_outcome": last.outcome if last else None,
    }


async def _apply(op: Any, name: str) -> dict[str, Any]:
    module = _plugin()
    try:
        job = await op(name)
    except module.store.JobError as exc:
        raise HTTPException(404, str(exc)) from None
    await module.service.changed()
    return _job(job, module.service)


@router.get("")
async def list_jobs(
    session: Annotated[auth.Session, Depends(admin_session)],
) -> dict[str, Any]:
    module = _plugin()
    jobs = await module.store.all_jobs()
    # jobs are few (a hand-kept list): one small query each for the latest run
    last = [(await module.store.runs(job.name, limit=1) or [None])[0] for job in jobs]
    return {
        "jobs": [
            _job(job, module.service, run) for job, run in zip(jobs, last, strict=True)
        ],
        "plugin_jobs": module.service.plugin_jobs(),
    }


@router.post("", status_code=201)
async def add_job(
    body: dict[str, Any], session: Annotated[auth.Session, Depends(admin_change)]
) -> dict[str, Any]:
    module = _plugin()
    from plugins.scheduler.core import JobSpec

    try:
        spec = JobSpec.model_validate(body)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "job"
        raise HTTPException(422, f"{where}: {err['msg']}") from None
    try:
        job = await module.store.add(spec, f"web:{session.user.name}")
    except module.store.JobError as exc:
        raise HTTPException(409, str(exc)) from None
    await module.service.changed()
    return _job(job, module.service)


@router.delete("/{name}", status_code=204)
async def remove_job(
    name: str, session: Annotated[auth.Session, Depends(admin_change)]
) -> Response:
    module = _plugin()
    try:
        await module.store.remove(name)
    except module.store.JobError as exc:
        raise HTTPException(404, str(exc)) from None
    await module.service.changed()
    return Response(status_code=204)


@router.post("/{name}/pause")
async def pause_job(
    name: str, session: Annotated[auth.Session, Depends(admin_change)]
) -> dict[str, Any]:
    return await _apply(lambda n: _plugin().store.set_enabled(n, False), name)


@router.post("/{name}/resume")
async def resume_job(
    name: str, session: Annotated[auth.Session, Depends(admin_change)]
) -> dict[str, Any]:
    return await _apply(lambda n: _plugin().store.set_enabled(n, True), name)


@router.post("/{name}/run")
async def run_job(
    name: str, session: Annotated[auth.Session, Depends(admin_change)]
) -> dict[str, Any]:
    return await _apply(lambda n: _plugin().store.request_run(n), name)


@router.get("/{name}/runs")
async def job_runs(
    name: str, session: Annotated[auth.Session, Depends(admin_session)]
) -> dict[str, Any]:
    module = _plugin()
    rows = await module.store.runs(name, limit=50)
    return {
        "runs": [
            {
                "scheduled_at": r.scheduled_at.isoformat(),
                "started_at": r.started_at.isoformat(),
                "ended_at": r.ended_at.isoformat() if r.ended_at else None,
                "outcome": r.outcome,
                "error": r.error,
                "reached": r.reached,
                "attempts": r.attempts,
                "instance": r.instance,
            }
            for r in rows
        ]
    }
