"""A community-style NoneBot plugin for the process tests: a listener that sees
every message and answers only ``note ...`` (``block=False``), and a command with
NoneBot's default ``block=False``."""

from __future__ import annotations

from nonebot import logger, on_command, on_message
from nonebot.adapters import Bot, Event

noted = on_message(priority=50, block=False)
roll = on_command("roll", priority=10)


@noted.handle()
async def _note(bot: Bot, event: Event) -> None:
    text = event.get_plaintext().strip()
    logger.info(f"side plugin saw: {text}")
    if text.startswith("note "):
        await bot.send(event, f"noted: {text[5:]}")


@roll.handle()
async def _roll(bot: Bot, event: Event) -> None:
    await bot.send(event, "rolled 4")
