"""A community-style plugin: a job on ``nonebot_plugin_apscheduler``'s scheduler."""

from nonebot import require

require("nonebot_plugin_apscheduler")

from nonebot_plugin_apscheduler import scheduler  # noqa: E402


@scheduler.scheduled_job("interval", seconds=3600, id="community_hourly")
async def hourly() -> None:
    return None
