"""Chat commands: one NoneBot matcher for every FreeChat command.

Admin commands (``/ban``, ``/budget``, ...) and history's ``/reset`` and
``/persona`` are NoneBot matchers of priority 1 that block, as NoneBot plugins
expect. Two costs of NoneBot's dispatch made them the most expensive part of a
plain chat message:

* ``nonebot.on_command`` checks its rule with the ``Command()``, ``CommandArg()``
  and ``CommandWhitespace()`` dependencies, plain functions that NoneBot runs in a
  worker thread: three thread round trips per command matcher for *every*
  message, command or not.
* Every matcher is checked for every message, each in its own task with task
  groups for its rule and the rule's parameters.

So FreeChat's plugins share one matcher (:func:`command_matcher`): its rule is a
coroutine reading the command that NoneBot's trie already parsed into the state,
and its handler routes to the handler registered with :func:`on_commands`.
Prefixes are NoneBot's ``command_start`` as with ``on_command``.

Generic names that community plugins also use (``/help``, ``/status``) are
registered with ``yield_to_plugins=True``: they go to a second shared matcher just
above the chat (priority 98), which answers only when no plugin's matcher took the
message first. An operator who installed a help plugin gets its help, once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from nonebot import on_message
from nonebot.adapters import Bot, Event, Message
from nonebot.consts import CMD_ARG_KEY, CMD_KEY, CMD_WHITESPACE_KEY, PREFIX_KEY
from nonebot.matcher import Matcher
from nonebot.rule import Rule, command
from nonebot.typing import T_State

__all__ = [
    "bounded",
    "command_arg",
    "command_matcher",
    "command_of",
    "is_freechat_command",
    "on_commands",
    "registered_matcher",
]

CommandHandler = Callable[[Bot, Event, T_State], Awaitable[None]]

_routes: dict[str, CommandHandler] = {}
_fallback_routes: dict[str, CommandHandler] = {}
_matcher: type[Matcher] | None = None
_fallback: type[Matcher] | None = None
FALLBACK_PRIORITY = 98


class _IsCommand:
    """Rule checker: the message starts with a command of ``routes`` (a coroutine
    taking only the state, so NoneBot solves it without a thread)."""

    __slots__ = ("routes",)

    def __init__(self, routes: dict[str, CommandHandler]) -> None:
        self.routes = routes

    def __repr__(self) -> str:
        return f"Command(cmds={sorted(self.routes)})"

    async def __call__(self, state: T_State) -> bool:
        prefix = state.get(PREFIX_KEY)
        if prefix is None:
            return False
        cmd = prefix.get(CMD_KEY)
        return (
            cmd is not None
            and len(cmd) == 1
            and cmd[0] in self.routes
            and bounded(state)
        )


# a checker instance has no ``__globals__``: without this, NoneBot could not resolve
# the postponed annotation and logged a ``NameError`` traceback at every start
_IsCommand.__call__.__annotations__["state"] = T_State


async def _route(bot: Bot, event: Event, state: T_State) -> None:
    await _routes[command_of(state)](bot, event, state)


async def _route_fallback(bot: Bot, event: Event, state: T_State) -> None:
    from bot import dispatch  # it imports this module

    if dispatch.handled_elsewhere():
        return  # a plugin's own /help (or /status) took it
    await _fallback_routes[command_of(state)](bot, event, state)


def command_matcher() -> type[Matcher]:
    """The matcher every FreeChat command runs in (for ``finish`` and ``send``)."""
    global _matcher
    if _matcher is None:
        _matcher = on_message(rule=Rule(_IsCommand(_routes)), priority=1, block=True)
        _matcher.append_handler(_route)
    return _matcher


def _fallback_matcher() -> type[Matcher]:
    global _fallback
    if _fallback is None:
        from bot import dispatch

        _fallback = on_message(
            rule=Rule(_IsCommand(_fallback_routes)),
            priority=FALLBACK_PRIORITY,
            block=True,
        )
        _fallback.append_handler(_route_fallback)
        dispatch.add_yielding(_fallback)
    return _fallback


def registered_matcher() -> type[Matcher] | None:
    """The command matcher, once a command is registered."""
    return _matcher


def on_commands(
    *names: str, yield_to_plugins: bool = False
) -> Callable[[CommandHandler], CommandHandler]:
    """Route the commands ``names`` (``"ban"`` for ``/ban``) to the decorated
    ``handler(bot, event, state)``. With ``yield_to_plugins``, a community plugin
    that answers the same command wins (see the module docstring)."""

    def register(handler: CommandHandler) -> CommandHandler:
        taken = [
            name
            for name in names
            if {**_routes, **_fallback_routes}.get(name, handler) is not handler
        ]
        if taken:
            raise ValueError(f"commands already registered: {', '.join(taken)}")
        # nonebot.rule.command puts each name (with every command_start) in the
        # trie that handle_event runs once per message; its own checker is unused
        command(*names)
        routes = _fallback_routes if yield_to_plugins else _routes
        for name in names:
            routes[name] = handler
        if yield_to_plugins:
            _fallback_matcher()
        else:
            command_matcher()
        return handler

    return register


def bounded(state: T_State) -> bool:
    """The command the trie found ends at a word boundary: ``/persona x`` and
    ``/persona`` name ``persona``, ``/personality`` and ``/banqq:1`` do not (the
    trie matches the longest registered prefix)."""
    prefix = state[PREFIX_KEY]
    arg = prefix.get(CMD_ARG_KEY)
    return prefix.get(CMD_WHITESPACE_KEY) is not None or arg is None or not arg


def is_freechat_command(name: str) -> bool:
    """Whether ``name`` is one of FreeChat's commands."""
    return name in _routes or name in _fallback_routes


def command_of(state: T_State) -> str:
    """The command's name (``"ban"`` for ``/ban``)."""
    return str(state[PREFIX_KEY][CMD_KEY][0])


def command_arg(state: T_State) -> Message[Any]:
    """What follows the command, as a message (empty when nothing does)."""
    arg = state[PREFIX_KEY][CMD_ARG_KEY]
    return arg  # type: ignore[no-any-return]
