"""Handing events to NoneBot, with a direct path for plain chat messages.

``nonebot.message.handle_event`` checks every priority level in its own task group,
every matcher in its own task, solves every rule and handler parameter in further
task groups, and writes three log lines per event. For a chat message that only the
chat plugin answers, that machinery was half of the whole cost of an answer through
seven plugins, an HTTP call to the model and a history write (``bench/onebot.py``:
about 650/s through ``handle_event``, about 1300-1450/s directly).

:func:`dispatch` takes the direct path only when the outcome is the same as
NoneBot's: the event is a message, it is not a command (NoneBot's command trie finds
none), and the only matchers NoneBot has are the chat plugin's (a rule and a
permission that always pass) and FreeChat's command matcher (whose rule fails for a
message that is not a command). No event or run pre- or post-processors may be
registered. Anything else, such as a community plugin's matcher, a session waiting
for input (a temporary matcher), or a processor, sends the event through
``handle_event`` as before. NoneBot's "message received" log line is kept.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from nonebot import logger
from nonebot import message as nb_message
from nonebot.adapters import Bot, Event
from nonebot.consts import CMD_KEY, PREFIX_KEY
from nonebot.exception import NoLogException
from nonebot.matcher import Matcher, matchers
from nonebot.message import handle_event
from nonebot.rule import TrieRule
from nonebot.utils import escape_tag

from bot import commands
from bot.text import clean_tree

__all__ = ["direct_path_open", "dispatch", "set_chat"]

log = logging.getLogger(__name__)

Answer = Callable[[Bot, Event], Awaitable[None]]

_chat: tuple[type[Matcher], Answer] | None = None
_PROCESSORS = (
    "_event_preprocessors",
    "_event_postprocessors",
    "_run_preprocessors",
    "_run_postprocessors",
)


def set_chat(matcher: type[Matcher] | None, answer: Answer | None = None) -> None:
    """Register the chat plugin's matcher and the function its handler runs (None:
    no direct path)."""
    global _chat
    _chat = (matcher, answer) if matcher is not None and answer is not None else None


def direct_path_open() -> bool:
    """Only FreeChat's matchers, none temporary, and no processors exist."""
    if _chat is None:
        return False
    for name in _PROCESSORS:
        processors = getattr(nb_message, name, None)
        if processors is None or processors:
            return False  # unknown NoneBot internals, or a processor: take its path
    chat = _chat[0]
    ours = (chat, commands.registered_matcher())
    found = False
    for level in matchers.values():
        for matcher in level:
            if matcher not in ours or matcher.temp or matcher.expire_time:
                return False
            found = found or matcher is chat
    return found and not chat.rule.checkers and not chat.permission.checkers


def _is_command(bot: Bot, event: Event) -> bool:
    state: dict[Any, Any] = {}
    try:
        TrieRule.get_value(bot, event, state)
    except Exception:  # NoneBot logs and goes on; here: its path decides
        return True
    return state[PREFIX_KEY][CMD_KEY] is not None


async def dispatch(bot: Bot, event: Event) -> None:
    """Handle ``event`` as ``nonebot.message.handle_event`` would, its text made
    valid first (lone surrogates replaced)."""
    clean_tree(event)
    if (
        _chat is None
        or event.get_type() != "message"
        or not direct_path_open()
        or _is_command(bot, event)
    ):
        await handle_event(bot, event)
        return
    try:
        logger.opt(colors=True).success(
            f"<m>{escape_tag(bot.type)} {escape_tag(bot.self_id)}</m> | "
            + event.get_log_string()
        )
    except NoLogException:
        pass
    try:
        await _chat[1](bot, event)
    except Exception:  # as NoneBot does: log it, the next event goes on
        log.exception("answering a message directly failed")
