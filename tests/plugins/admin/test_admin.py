"""Admin commands through NoneBot (nonebug) with a real database: only superusers,
every change audited and published on the change feed; argument parsing."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from fc_plugin_helpers import private_event

from bot.context import ChatContext
from bot.settings import Settings
from bot.state import MemoryState


def event(user_id: int, text: str) -> Any:
    return private_event(user_id, text)


async def factory(bot: Any, ev: Any) -> ChatContext:
    return ChatContext(platform="qq", user_id=str(ev.user_id), text="")


async def deliver(bot: Any, ev: Any, ctx: ChatContext) -> None:
    return None


async def command(app: Any, matcher: Any, user_id: int, text: str, answer: str) -> None:
    from bot.platform import Platform, register_platform

    ev = event(user_id, text)
    async with app.test_matcher(matcher) as c:
        bot = c.create_bot()
        dispose = register_platform(Platform(bot.adapter.get_name(), factory, deliver))
        c.receive_event(bot, ev)
        c.should_call_send(ev, answer, result=None)
    dispose()


@pytest.fixture
def feed(runtime: Callable[..., Any]) -> MemoryState:
    state = MemoryState()
    runtime(state, Settings(superusers=["qq:1"], locale="en"))
    return state


async def test_ban_unban_and_refusal_for_non_admins(
    plugins_loaded: None, app: Any, database: str, feed: MemoryState
) -> None:
    from bot.store.models import AuditLog, Ban
    from plugins.admin import admin

    sub = await feed.subscribe("access")
    await command(
        app, admin, 2, "/ban qq:99 spam", "Sorry, only admins can use that command."
    )
    assert await Ban.all().count() == 0
    await command(app, admin, 1, "/ban qq:99 spam links", "Banned qq:99.")
    row = await Ban.get(user_key="qq:99")
    assert (row.reason, row.created_by) == ("spam links", "qq:1")
    assert (await sub.queue.get()) == {"kind": "ban", "key": "qq:99"}
    await command(
        app,
        admin,
        1,
        "/ban 99",
        "Usage: a user key looks like platform:user_id, e.g. qq:12345",
    )
    await command(app, admin, 1, "/unban qq:99", "Unbanned qq:99.")
    assert await Ban.all().count() == 0
    assert (await sub.queue.get()) == {"kind": "unban", "key": "qq:99"}
    audit = await AuditLog.all().order_by("id").values_list("actor", "action", "detail")
    assert [(a, b) for a, b, _ in audit] == [("qq:1", "ban"), ("qq:1", "unban")]
    assert json.loads(audit[0][2]) == {"user": "qq:99", "reason": "spam links"}
    await sub.close()


async def test_budget_words_and_keywords(
    plugins_loaded: None, app: Any, database: str, feed: MemoryState
) -> None:
    from bot.store.models import BudgetOverride, KeywordRule, SensitiveWord
    from plugins.admin import admin

    subs = {
        c: await feed.subscribe(c) for c in ("budgets", "sensitive_words", "keywords")
    }
    await command(
        app,
        admin,
        1,
        "/budget user qq:5 1000 -",
        "Budget of user qq:5: daily 1000, monthly default.",
    )
    row = await BudgetOverride.get(scope_kind="user", scope_key="qq:5")
    assert (row.daily_limit, row.monthly_limit) == (1000, None)
    assert (await subs["budgets"].queue.get()) == {"kind": "user", "key": "qq:5"}

    await command(app, admin, 1, "/word add 坏词 insult", "Added a word in insult.")
    assert await SensitiveWord.filter(word="坏词", category="insult").exists()
    assert (await subs["sensitive_words"].queue.get())["op"] == "add"
    await command(app, admin, 1, "/word del 坏词 insult", "Removed a word in insult.")
    assert not await SensitiveWord.filter(word="坏词").exists()

    await command(
        app,
        admin,
        1,
        "/keyword add regex (a+)+ boom",
        "Rejected: nested quantifiers (like (a+)+) can take exponential time",
    )
    assert await KeywordRule.all().count() == 0
    await command(
        app,
        admin,
        1,
        "/keyword add contains 营业时间 九点到六点 priority=3",
        "Added rule 1.",
    )
    rule = await KeywordRule.get(id=1)
    assert (rule.match, rule.pattern, rule.reply, rule.priority) == (
        "contains",
        "营业时间",
        "九点到六点",
        3,
    )
    assert (await subs["keywords"].queue.get()) == {"op": "add", "id": 1}
    await command(app, admin, 1, "/keyword del 1", "Removed rule 1.")
    await command(
        app, admin, 2, "/keyword del 1", "Sorry, only admins can use that command."
    )
    for sub in subs.values():
        await sub.close()


def test_argument_parsing(plugins_loaded: None) -> None:
    from plugins.admin import core

    assert core.parse_budget(["group", "qq:g", "1_000", "0"]) == core.BudgetArgs(
        "group", "qq:g", 1000, 0
    )
    kw = core.parse_keyword(["add", "exact", "hi", "hello", "there", "scope=qq:g"])
    assert (kw.reply, kw.scope, kw.priority) == ("hello there", "qq:g", 0)
    for bad in (["add"], ["add", "fuzzy", "a", "b"], ["del", "x"]):
        with pytest.raises(core.UsageError):
            core.parse_keyword(bad)
    with pytest.raises(core.UsageError):
        core.parse_budget(["user", "qq:1", "-5"])
    with pytest.raises(core.UsageError):
        core.parse_word(["add"])
