"""The shared command matcher of ``bot.commands`` through NoneBot (nonebug):
routing by name, arguments, messages that are not commands, no thread hops."""

from __future__ import annotations

from typing import Any

import pytest
from fc_plugin_helpers import private_event


def event(text: str) -> Any:
    return private_event(5, text)


async def test_commands_route_by_name_with_their_argument(
    plugins_loaded: None, app: Any
) -> None:
    from bot.commands import command_arg, command_matcher, command_of, on_commands

    seen: list[tuple[str, str]] = []

    @on_commands("fc_echo", "fc_shout")
    async def _handle(bot: Any, ev: Any, state: Any) -> None:
        seen.append((command_of(state), command_arg(state).extract_plain_text()))
        await command_matcher().finish("done")

    matcher = command_matcher()
    for text in ("/fc_echo hello there", "/fc_shout"):
        async with app.test_matcher(matcher) as c:
            bot = c.create_bot()
            ev = event(text)
            c.receive_event(bot, ev)
            c.should_call_send(ev, "done", result=None)
            c.should_finished(matcher)
    assert seen == [("fc_echo", "hello there"), ("fc_shout", "")]

    # plain text and unknown commands pass on to the chat (lower priorities)
    for text in ("hello", "/fc_unknown x", "fc_echo"):
        async with app.test_matcher(matcher) as c:
            bot = c.create_bot()
            c.receive_event(bot, event(text))
            c.should_not_pass_rule(matcher)
    assert len(seen) == 2

    with pytest.raises(ValueError, match="fc_echo"):

        @on_commands("fc_echo")
        async def _other(bot: Any, ev: Any, state: Any) -> None:
            return None


def test_the_rule_takes_only_the_state(plugins_loaded: None) -> None:
    """NoneBot runs plain-function dependencies in worker threads; the rule of the
    matcher every message is checked against must need none."""
    from nonebot.internal.params import StateParam

    from bot.commands import command_matcher

    checkers = command_matcher().rule.checkers
    assert checkers
    for checker in checkers:
        assert all(isinstance(p.field_info, StateParam) for p in checker.params)
        assert not checker.parameterless


async def test_commands_need_a_word_boundary(plugins_loaded: None, app: Any) -> None:
    from bot.commands import command_matcher, on_commands

    seen: list[str] = []

    @on_commands("fc_persona")
    async def _handle(bot: Any, ev: Any, state: Any) -> None:
        seen.append(ev.get_plaintext())
        await command_matcher().finish("done")

    matcher = command_matcher()
    for text in ("/fc_personality test", "/fc_personaqq:1"):
        async with app.test_matcher(matcher) as c:
            bot = c.create_bot()
            c.receive_event(bot, event(text))
            c.should_not_pass_rule(matcher)
    for text in ("/fc_persona", "/fc_persona  x"):
        async with app.test_matcher(matcher) as c:
            bot = c.create_bot()
            ev = event(text)
            c.receive_event(bot, ev)
            c.should_call_send(ev, "done", result=None)
            c.should_finished(matcher)
    assert seen == ["/fc_persona", "/fc_persona  x"]
