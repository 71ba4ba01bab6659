"""``freechat schedule ...``: manage jobs from a shell, against the database in the
settings. A running bot notices the change within ``poll_interval`` seconds (it
polls the change stamp); with a Redis state it is also told on the change feed."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from bot.settings import Settings


def main(argv: list[str], settings: Settings) -> int:
    """Called by ``bot.cli`` once this plugin is loaded."""
    from plugins.scheduler import config, store
    from plugins.scheduler.commands import execute

    async def run() -> str:
        from bot import store as db
        from bot.state import open_state

        await db.init_store(settings.database.url)
        try:
            answer = await execute(
                argv, actor="cli", timezone=config.scheduler_timezone
            )
            if argv and argv[0] not in ("list", "-h", "--help"):
                await _publish(settings, store.CHANNEL, open_state)
            return answer
        finally:
            await db.close_store()

    try:
        print(asyncio.run(run()))
    except store.JobError as exc:
        print(f"freechat schedule: {exc}".rstrip(), file=sys.stderr)
        return 2
    return 0


async def _publish(settings: Settings, channel: str, open_state: Any) -> None:
    if settings.state.url.startswith("memory://"):
        return  # nobody else shares it: running bots poll the database
    state = open_state(settings.state.url)
    try:
        await state.publish(channel, {"op": "changed"})
    finally:
        await state.close()
