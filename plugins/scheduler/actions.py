"""Commands other plugins offer to scheduled jobs: a job with ``action: command``
and payload ``"<name> <args>"`` runs the command and sends the text it returns.

A plugin registers through NoneBot::

    scheduler = require("plugins.scheduler")
    scheduler.register_command("weather", weather_text)  # async (args) -> str
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

Command = Callable[[str], Awaitable[str]]

_commands: dict[str, Command] = {}


class UnknownCommand(Exception):
    pass


def register_command(name: str, fn: Command) -> Callable[[], None]:
    """Offer ``fn(args) -> text`` as the job command ``name``; return a disposer."""
    _commands[name] = fn

    def dispose() -> None:
        if _commands.get(name) is fn:
            del _commands[name]

    return dispose


def commands() -> list[str]:
    return sorted(_commands)


async def run_command(payload: str) -> str:
    name, _, args = payload.strip().lstrip("/").partition(" ")
    fn = _commands.get(name)
    if fn is None:
        raise UnknownCommand(
            f"no job command {name[:64]!r} (offered: {', '.join(commands()) or 'none'})"
        )
    return await fn(args.strip())
