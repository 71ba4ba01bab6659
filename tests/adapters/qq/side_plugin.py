"""A community-style NoneBot plugin for the process tests: it notes every message
and lets it go on to the chat (``block=False``)."""

from __future__ import annotations

from nonebot import on_message
from nonebot.adapters import Bot, Event

noted = on_message(priority=50, block=False)


@noted.handle()
async def _note(bot: Bot, event: Event) -> None:
    await bot.send(event, f"noted: {event.get_plaintext()}")
