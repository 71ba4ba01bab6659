"""``schedule add|list|remove|pause|resume|run-now``: one parser and one executor for
the ``freechat schedule`` CLI and the superusers' ``/schedule`` chat command.
Answers are bilingual; errors raise :class:`~.store.JobError` with a clear message.
"""

from __future__ import annotations

import argparse
import uuid
from collections.abc import Awaitable, Callable

from pydantic import ValidationError

from . import store
from .core import JobSpec, describe


class UsageError(store.JobError):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message}\n{self.format_usage()}")

    def exit(self, status: int = 0, message: str | None = None) -> None:  # type: ignore[override]
        raise UsageError(message or self.format_help())


def build_parser(prog: str = "schedule", timezone: str = "Asia/Shanghai") -> _Parser:
    parser = _Parser(prog=prog, description="Scheduled messages / 定时消息")
    sub = parser.add_subparsers(dest="op", required=True, parser_class=_Parser)
    add = sub.add_parser("add", help="add a job / 添加任务")
    when = add.add_mutually_exclusive_group(required=True)
    when.add_argument("--cron", help='crontab line, e.g. "0 8 * * *"')
    when.add_argument("--every", type=float, metavar="SECONDS")
    when.add_argument("--date", help="ISO date-time, e.g. 2026-12-01T08:00")
    add.add_argument("--target", action="append", required=True, metavar="TARGET")
    what = add.add_mutually_exclusive_group(required=True)
    what.add_argument("--text")
    what.add_argument("--prompt")
    what.add_argument("--command", help="a job command another plugin offers")
    add.add_argument("--name")
    add.add_argument("--timezone", default=timezone)
    sub.add_parser("list", help="list jobs / 列出任务")
    for op, text in (
        ("remove", "remove a job / 删除任务"),
        ("pause", "pause a job / 暂停任务"),
        ("resume", "resume a job / 恢复任务"),
        ("run-now", "run a job once now / 立即运行一次"),
    ):
        sub.add_parser(op, help=text).add_argument("name")
    return parser


def _spec(args: argparse.Namespace) -> JobSpec:
    if args.cron is not None:
        trigger, spec = "cron", args.cron
    elif args.every is not None:
        trigger, spec = "interval", f"{args.every:g}"
    else:
        trigger, spec = "date", args.date
    if args.text is not None:
        action, payload = "text", args.text
    elif args.prompt is not None:
        action, payload = "prompt", args.prompt
    else:
        action, payload = "command", args.command
    name = args.name or "job-" + uuid.uuid4().hex[:8]
    try:
        return JobSpec(
            name=name,
            trigger=trigger,
            spec=spec,
            timezone=args.timezone,
            targets=args.target,
            action=action,
            payload=payload,
        )
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "job"
        raise UsageError(f"{where}: {err['msg']}") from None


async def execute(
    argv: list[str],
    *,
    actor: str = "",
    timezone: str = "Asia/Shanghai",
    next_run: Callable[[str], object] | None = None,
    after_change: Callable[[], Awaitable[None]] | None = None,
) -> str:
    """Run one ``schedule`` command; return the answer to show."""
    args = build_parser(timezone=timezone).parse_args(argv)
    op = args.op
    if op == "list":
        jobs = await store.all_jobs()
        if not jobs:
            return "No scheduled jobs. 暂无定时任务。"
        lines = []
        for job in jobs:
            state = "on" if job.enabled else "paused/已暂停"
            what = f"{job.action}: {job.payload[:40]}"
            nxt = next_run(job.name) if next_run else None
            lines.append(
                f"{job.name} [{state}] {describe(job.trigger, job.spec, job.timezone)}"
                f" -> {', '.join(job.targets)} ({what})"
                + (f" next {nxt}" if nxt else "")
            )
        return "\n".join(lines)
    if op == "add":
        job = await store.add(_spec(args), actor)
        answer = (
            f"Job {job.name} added ({describe(job.trigger, job.spec, job.timezone)}). "
            f"任务 {job.name} 已添加。"
        )
    elif op == "remove":
        await store.remove(args.name)
        answer = f"Job {args.name} removed. 任务 {args.name} 已删除。"
    elif op == "pause":
        await store.set_enabled(args.name, False)
        answer = f"Job {args.name} paused. 任务 {args.name} 已暂停。"
    elif op == "resume":
        await store.set_enabled(args.name, True)
        answer = f"Job {args.name} resumed. 任务 {args.name} 已恢复。"
    else:
        await store.request_run(args.name)
        answer = f"Job {args.name} runs now. 任务 {args.name} 即将运行。"
    if after_change is not None:
        await after_change()
    return answer
