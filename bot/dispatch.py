"""One entry into NoneBot for every adapter, and what the chat may answer.

Every adapter's bot hands its events to :func:`dispatch`. Two things happen here.

**The chat answers only what nobody else handled.** A message that NoneBot's command
trie recognises for any loaded plugin (a command, even one the sender may not use),
one that a matcher picked by its rule ran for (a keyword, a regex, a session
waiting for input), and one that any matcher answered (any send API) never reaches
the model, whether or not that matcher blocks: NoneBot 2.5's ``on_command``
defaults to ``block=False``, so its priority-99 chat matcher would answer too. A
catch-all listener (``on_message()`` without a rule, like a repeater) handles only
what it answers. The chat reads the verdict with :func:`handled`.

**Only the matchers that can match.** With community plugins loaded, a message runs
through :func:`_handle`: ``handle_event``'s steps (event processors, the trie, the
priority levels, blocking) over the matchers whose cheap checks pass: the event
type, and for ``on_command``/``on_shell_command`` the command the trie found. Each
such rule NoneBot checks solves three dependencies in worker threads; a plugin like
nonebot-plugin-blacklist has twenty of them, checked for every message.

**A direct path for plain chat messages.** ``nonebot.message.handle_event`` checks
every priority level in its own task group, every matcher in its own task, solves
every rule and handler parameter in further task groups. For a chat message that
only the chat plugin answers, that machinery was half of the whole cost of an
answer (``bench/onebot.py``). :func:`dispatch` answers directly when the outcome is
the same as NoneBot's: the event is a message, not a command, and no matcher but
FreeChat's exists (no temporary one either), and no processor but FreeChat's own.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import anyio
from exceptiongroup import BaseExceptionGroup, catch
from nonebot import logger
from nonebot import message as nb_message
from nonebot.adapters import Bot, Event
from nonebot.consts import CMD_KEY, PREFIX_KEY
from nonebot.exception import NoLogException, StopPropagation
from nonebot.matcher import Matcher, matchers
from nonebot.message import check_and_run_matcher, handle_event, run_preprocessor
from nonebot.rule import CommandRule, ShellCommandRule, TrieRule
from nonebot.utils import escape_tag, run_coro_with_shield

from bot import commands
from bot.text import clean_tree

__all__ = [
    "chat_matcher",
    "direct_path_open",
    "dispatch",
    "handled",
    "is_send_api",
    "own_processor",
    "set_chat",
]

log = logging.getLogger(__name__)

Answer = Callable[[Bot, Event], Awaitable[None]]


@dataclass(slots=True)
class _Verdict:
    """What happened to one event before the chat matcher ran."""

    command: bool = False
    picked: bool = False
    answered: bool = False


_verdict: ContextVar[_Verdict | None] = ContextVar("fc_dispatch_verdict", default=None)
_chat: tuple[type[Matcher], Answer] | None = None
_own: set[Any] = set()  # FreeChat's processors (their callables)
_yielding: set[type[Matcher]] = set()
_PROCESSORS = (
    "_event_preprocessors",
    "_event_postprocessors",
    "_run_preprocessors",
    "_run_postprocessors",
)


def own_processor(func: Any) -> Any:
    """Mark ``func`` (a NoneBot processor of FreeChat's) as one the direct path
    may ignore: it is applied there by other means."""
    _own.add(func)
    return func


def is_send_api(api: str) -> bool:
    """Whether a bot API call sends a message (``send``, ``send_msg``,
    ``send_group_msg``, ``send_message``, ...)."""
    return api.startswith("send")


def set_chat(matcher: type[Matcher] | None, answer: Answer | None = None) -> None:
    """Register the chat plugin's matcher and the function its handler runs (None:
    no direct path)."""
    global _chat
    _chat = (matcher, answer) if matcher is not None and answer is not None else None
    if _chat is not None:
        _install_hooks()


def chat_matcher() -> type[Matcher] | None:
    """The chat plugin's matcher (None before it is loaded)."""
    return _chat[0] if _chat is not None else None


def add_yielding(matcher: type[Matcher]) -> None:
    """``matcher`` answers only what nobody else handled, like the chat: its own
    run does not count as handled (see :func:`handled_elsewhere`)."""
    _yielding.add(matcher)


def handled_elsewhere() -> bool:
    """Whether a matcher other than the chat and the yielding ones ran for (or
    answered) the event being dispatched; a recognised command alone does not
    count."""
    verdict = _verdict.get()
    return verdict is not None and (verdict.picked or verdict.answered)


def handled() -> bool:
    """Whether another matcher handled the event being dispatched (see above)."""
    verdict = _verdict.get()
    return verdict is not None and (
        verdict.command or verdict.picked or verdict.answered
    )


_hooks_installed = False


def _install_hooks() -> None:
    global _hooks_installed
    if _hooks_installed:
        return
    _hooks_installed = True
    Bot.on_calling_api(_note_send)
    run_preprocessor(own_processor(_note_run))


async def _note_send(bot: Bot, api: str, data: dict[str, Any]) -> None:
    verdict = _verdict.get()
    if verdict is not None and is_send_api(api):
        verdict.answered = True


async def _note_run(matcher: Matcher) -> None:
    verdict = _verdict.get()
    if verdict is None or _chat is None or type(matcher) is _chat[0]:
        return
    if type(matcher) in _yielding:
        return
    if matcher.temp or matcher.rule.checkers:
        verdict.picked = True


def _foreign_processors() -> bool:
    for name in _PROCESSORS:
        processors = getattr(nb_message, name, None)
        if processors is None:
            return True  # unknown NoneBot internals: take its path
        if any(p.call not in _own for p in processors):
            return True
    return False


def direct_path_open() -> bool:
    """Only FreeChat's matchers, none temporary, and no processors but ours."""
    if _chat is None or _foreign_processors():
        return False
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
        return False
    cmd = state[PREFIX_KEY][CMD_KEY]
    if cmd is None:
        return False
    # FreeChat's commands need a word boundary (``/personality`` is no
    # ``/persona``); a community plugin's answer as NoneBot matches them
    return not (
        len(cmd) == 1
        and commands.is_freechat_command(cmd[0])
        and not commands.bounded(state)
    )


def _may_match(matcher: type[Matcher], event_type: str, cmd: Any) -> bool:
    """False only when ``matcher`` certainly does not match: another event type,
    or a command rule for commands other than the one the trie found."""
    if matcher.type and matcher.type != event_type:
        return False
    for checker in matcher.rule.checkers:
        call = checker.call
        if isinstance(call, CommandRule | ShellCommandRule) and (
            cmd is None or cmd not in call.cmds
        ):
            return False
    return True


def _log_received(bot: Bot, event: Event) -> bool:
    try:
        logger.opt(colors=True).success(
            f"<m>{escape_tag(bot.type)} {escape_tag(bot.self_id)}</m> | "
            + event.get_log_string()
        )
    except NoLogException:
        return False
    return True


async def _handle(bot: Bot, event: Event) -> None:
    """``nonebot.message.handle_event`` over the matchers that can match."""
    _log_received(bot, event)
    state: dict[Any, Any] = {}
    cache: dict[Any, Any] = {}
    async with AsyncExitStack() as stack:
        if not await nb_message._apply_event_preprocessors(
            bot=bot, event=event, state=state, stack=stack, dependency_cache=cache
        ):
            return
        try:
            TrieRule.get_value(bot, event, state)
        except Exception as exc:
            logger.opt(colors=True, exception=exc).warning(
                "Error while parsing command for event"
            )
        cmd = state.get(PREFIX_KEY, {}).get(CMD_KEY)
        event_type = event.get_type()
        chat = _plain_chat()
        for priority in sorted(matchers):
            level = [
                m
                for m in matchers[priority]
                if m is not chat and _may_match(m, event_type, cmd)
            ]
            if level and await _run_level(level, bot, event, state, stack, cache):
                break
            if chat is not None and _chat is not None and chat in matchers[priority]:
                # what NoneBot would do with it, without its matcher machinery
                try:
                    await _chat[1](bot, event)
                except Exception:
                    log.exception("answering a message failed")
                if chat.block:
                    break
        await nb_message._apply_event_postprocessors(bot, event, state, stack, cache)


def _plain_chat() -> type[Matcher] | None:
    """The chat matcher when running its answer directly changes nothing: no rule,
    no permission, no run processor but FreeChat's own."""
    if _chat is None:
        return None
    chat = _chat[0]
    if chat.rule.checkers or chat.permission.checkers or chat.temp:
        return None
    for name in ("_run_preprocessors", "_run_postprocessors"):
        processors = getattr(nb_message, name, None)
        if processors is None or any(p.call not in _own for p in processors):
            return None
    return chat


async def _run_level(
    level: list[type[Matcher]],
    bot: Bot,
    event: Event,
    state: dict[Any, Any],
    stack: AsyncExitStack,
    cache: dict[Any, Any],
) -> bool:
    """Run one priority level as NoneBot does; True when propagation stops."""
    stop = False

    def _stopped(exc_group: BaseExceptionGroup[StopPropagation]) -> None:
        nonlocal stop
        stop = True

    def _failed(exc_group: BaseExceptionGroup[Exception]) -> None:
        for exc in exc_group.exceptions:
            logger.opt(colors=True, exception=exc).error(
                "<r><bg #f8bbd0>Error when checking Matcher.</bg #f8bbd0></r>"
            )

    with catch({StopPropagation: _stopped, Exception: _failed}):
        async with anyio.create_task_group() as tg:
            for matcher in level:
                tg.start_soon(
                    run_coro_with_shield,
                    check_and_run_matcher(
                        matcher, bot, event, state.copy(), stack, cache
                    ),
                )
    return stop


async def dispatch(bot: Bot, event: Event) -> None:
    """Handle ``event`` as ``nonebot.message.handle_event`` would, its text made
    valid first (lone surrogates replaced), and record for the chat whether
    anything else handled it."""
    clean_tree(event)
    if _chat is None or event.get_type() != "message":
        await handle_event(bot, event)
        return
    command = _is_command(bot, event)
    if command or not direct_path_open():
        token = _verdict.set(_Verdict(command=command))
        try:
            await _handle(bot, event)
        finally:
            _verdict.reset(token)
        return
    _log_received(bot, event)
    try:
        await _chat[1](bot, event)
    except Exception:  # as NoneBot does: log it, the next event goes on
        log.exception("answering a message directly failed")
