"""Scheduled messages on APScheduler 3: jobs kept in the database, fired by exactly
one instance per run, sent to any chat through ``bot.send``.

The scheduler is the one of ``nonebot_plugin_apscheduler``, so community plugins
that ``require("nonebot_plugin_apscheduler")`` share it (their jobs are "plugin
jobs": listed, not kept). Superusers manage jobs with ``/schedule ...`` in chat,
operators with ``freechat schedule ...`` and the admin API (:mod:`.api`).
"""

from __future__ import annotations

import logging
import shlex

from nonebot import get_driver, get_plugin, get_plugin_config, require
from nonebot.adapters import Bot, Event
from nonebot.permission import SUPERUSER
from nonebot.plugin import PluginMetadata
from nonebot.typing import T_State

require("nonebot_plugin_apscheduler")

from nonebot_plugin_apscheduler import scheduler  # noqa: E402

from bot.commands import command_arg, command_matcher, on_commands  # noqa: E402
from bot.send import set_target_limit  # noqa: E402

from . import store  # noqa: E402
from .actions import register_command  # noqa: E402
from .commands import execute  # noqa: E402
from .config import Config  # noqa: E402
from .prompt import generate  # noqa: E402
from .service import SchedulerService  # noqa: E402

__plugin_meta__ = PluginMetadata(
    name="scheduler",
    description="Scheduled messages and prompts to any chat (APScheduler)",
    usage=(
        "/schedule add --every 3600 --target qq:group:123 --text hello; "
        "/schedule list|remove|pause|resume|run-now NAME (superusers)"
    ),
    type="application",
    config=Config,
)

__all__ = ["Config", "register_command", "scheduler", "service", "store"]

log = logging.getLogger("freechat.scheduler")
config = get_plugin_config(Config)
driver = get_driver()


async def _alert(text: str) -> None:
    """Through the alerts plugin when it is enabled; the log otherwise."""
    alerts = get_plugin("alerts")
    if alerts is None or alerts.module is None:
        log.error("scheduler alert (the alerts plugin is off): %s", text)
        return
    await alerts.module.notify_superusers(text)


service = SchedulerService(scheduler, config, generate, _alert)
service.install()


@driver.on_startup
async def _start() -> None:
    set_target_limit(config.scheduler_send_limit, config.scheduler_send_window)
    if not scheduler.running:
        scheduler.start()
    await service.start()


@driver.on_shutdown
async def _stop() -> None:
    await service.stop()


@on_commands("schedule")
async def _schedule(bot: Bot, event: Event, state: T_State) -> None:
    matcher = command_matcher()
    if not await SUPERUSER(bot, event):
        await matcher.finish(
            "Only superusers can manage schedules. 仅超级用户可管理定时任务。"
        )
    try:
        argv = shlex.split(command_arg(state).extract_plain_text())
        answer = await execute(
            argv,
            actor=event.get_user_id(),
            timezone=config.scheduler_timezone,
            next_run=service.next_run,
            after_change=service.changed,
        )
    except (store.JobError, ValueError) as exc:
        answer = f"{exc}".strip()
    await matcher.finish(answer[:3000])
