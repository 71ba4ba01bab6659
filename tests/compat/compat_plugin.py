"""A community-style plugin for the compatibility suite that uses
nonebot-plugin-apscheduler and nonebot-plugin-localstore the way plugins do:
``/fc_later`` stores a note in its data directory and schedules a job that sends
to the group outside any matcher."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from nonebot import on_command, require
from nonebot.adapters.onebot.v11 import Bot, GroupMessageEvent

require("nonebot_plugin_apscheduler")
require("nonebot_plugin_localstore")

import nonebot_plugin_localstore as store  # noqa: E402
from nonebot_plugin_apscheduler import scheduler  # noqa: E402

later = on_command("fc_later")


async def _job(bot: Bot, group_id: int) -> None:
    await bot.send_group_msg(group_id=group_id, message="job says 傻冒")


@later.handle()
async def _later(bot: Bot, event: GroupMessageEvent) -> None:
    note = store.get_plugin_data_file("note.txt")
    note.write_text("noted", encoding="utf-8")
    scheduler.add_job(
        _job,
        "date",
        run_date=datetime.now(UTC) + timedelta(seconds=0.3),
        args=[bot, event.group_id],
    )
    await later.send(f"scheduled; note at {note}")
