"""Chat commands as NoneBot matchers, without NoneBot's per-message thread hops.

``nonebot.on_command`` checks its rule with the ``Command()``, ``CommandArg()`` and
``CommandWhitespace()`` dependencies. They are plain functions, and NoneBot runs a
plain-function dependency in a worker thread, so every command matcher cost three
thread round trips for *every* message, command or not (measured under the OneBot
bench: most of the time the admin and history matchers added to a message).

:func:`on_commands` builds the same matcher (same prefixes from ``command_start``,
same trie, same ``block`` behaviour) with a coroutine rule that reads the command
the trie already parsed into the state. Handlers read the command and its argument
with :func:`command_of` and :func:`command_arg` rather than the dependencies.
"""

from __future__ import annotations

from typing import Any

from nonebot import on_message
from nonebot.adapters import Message
from nonebot.consts import CMD_ARG_KEY, CMD_KEY, PREFIX_KEY
from nonebot.matcher import Matcher
from nonebot.rule import Rule, command
from nonebot.typing import T_State

__all__ = ["command_arg", "command_of", "on_commands"]


class _IsCommand:
    """Rule checker: the message starts with one of ``names`` (a coroutine taking
    only the state, so NoneBot solves it without a thread)."""

    __slots__ = ("names",)

    def __init__(self, names: frozenset[tuple[str, ...]]) -> None:
        self.names = names

    def __repr__(self) -> str:
        return f"Command(cmds={sorted(self.names)})"

    async def __call__(self, state: T_State) -> bool:
        prefix = state.get(PREFIX_KEY)
        return prefix is not None and prefix.get(CMD_KEY) in self.names


def on_commands(*names: str, priority: int = 1, block: bool = True) -> type[Matcher]:
    """One matcher for the commands ``names`` (like ``on_command(names[0],
    aliases=set(names[1:]))``)."""
    # nonebot.rule.command registers each name (with every command_start) in the
    # trie that handle_event runs once per message; its own checker is not used
    command(*names)
    rule = Rule(_IsCommand(frozenset((name,) for name in names)))
    return on_message(rule=rule, priority=priority, block=block)


def command_of(state: T_State) -> str:
    """The command's name (``"ban"`` for ``/ban``)."""
    return str(state[PREFIX_KEY][CMD_KEY][0])


def command_arg(state: T_State) -> Message[Any]:
    """What follows the command, as a message (empty when nothing does)."""
    arg = state[PREFIX_KEY][CMD_ARG_KEY]
    return arg  # type: ignore[no-any-return]
