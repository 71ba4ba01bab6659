"""Admin commands in chat: ``/ban``, ``/unban``, ``/budget``, ``/word``, ``/keyword``,
and the console's ``/help``, list/show, ``/group``, ``/usage``, ``/status``
(:mod:`.console`).

NoneBot command matchers of priority 1 (they never reach the model). Only
superusers may use them: user keys listed in ``superusers`` (``platform:user_id``,
as the platform's context factory builds them), contexts the adapter marks as
admin, or NoneBot's own SUPERUSER. Every change is written to ``AuditLog`` and
published on the change feed, so every instance applies it at once.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

from nonebot import get_plugin_config
from nonebot.adapters import Bot, Event, Message
from nonebot.matcher import Matcher
from nonebot.plugin import PluginMetadata
from nonebot.typing import T_State
from tortoise.exceptions import BaseORMException

from bot.commands import command_arg, command_matcher, command_of, on_commands
from bot.context import ChatContext
from bot.i18n import t
from bot.runtime import get_runtime
from bot.store.models import (
    AuditLog,
    Ban,
    BudgetOverride,
    KeywordRule,
    SensitiveWord,
)

from . import console, core
from .config import Config

__plugin_meta__ = PluginMetadata(
    name="admin",
    description="Admin commands: bans, budgets, sensitive words, keyword rules",
    usage=(
        "/ban <platform:id> [reason] | /unban <platform:id> | "
        "/budget <user|group> <platform:id> <daily|-> [monthly|-] | "
        "/word add|del <word> [category] | "
        "/keyword add <exact|contains|regex> <pattern> <reply> | /keyword del <id> | "
        "/help | /ban list | /word list [category] | /keyword list | "
        "/budget show <id> | /group ... | /usage | /status"
    ),
    type="application",
    config=Config,
)

log = logging.getLogger(__name__)
config = get_plugin_config(Config)

# FreeChat's commands share one matcher (see bot.commands for why)
admin = command_matcher()


async def _admin(bot: Bot, event: Event) -> ChatContext | None:
    """The sender's context when the sender is a superuser, else None (in a group
    with or without an @: commands skip the group's wake rules)."""
    ctx, level = await console.identify(bot, event)
    return ctx if level == console.SUPERUSER_LEVEL else None


def _t(text_id: str, **values: Any) -> str:
    """A bot-side text in the ``locale`` setting's language (``bot.i18n``)."""
    return t(text_id, get_runtime().settings.locale, **values)


async def _audit(actor: str, action: str, detail: dict[str, Any]) -> None:
    await AuditLog.create(
        actor=actor, action=action, detail=json.dumps(detail, ensure_ascii=False)
    )


async def _publish(channel: str, message: dict[str, Any]) -> None:
    await get_runtime().state.publish(channel, message)


async def _guard(matcher: type[Matcher], bot: Bot, event: Event) -> ChatContext:
    ctx = await _admin(bot, event)
    if ctx is None:
        log.warning("admin command refused for %s", event.get_user_id())
        if config.admin_denied_message is None:
            await matcher.finish(t("denied", get_runtime().settings.locale))
        if config.admin_denied_message:
            await matcher.finish(config.admin_denied_message)
        await matcher.finish()
    assert ctx is not None
    return ctx


def _args(arg: Message[Any]) -> list[str]:
    return arg.extract_plain_text().split()


async def _ban(bot: Bot, event: Event, arg: Message[Any]) -> None:
    ctx = await _guard(admin, bot, event)
    try:
        req = core.parse_ban(_args(arg))
        await Ban.update_or_create(
            user_key=req.user_key,
            defaults={"reason": req.reason, "created_by": ctx.user_key, "until": None},
        )
        await _audit(ctx.user_key, "ban", {"user": req.user_key, "reason": req.reason})
        await _publish(core.ACCESS_CHANNEL, {"kind": "ban", "key": req.user_key})
    except core.UsageError as exc:
        await admin.finish(_t("usage", usage=str(exc)))
    except BaseORMException as exc:
        log.error("/ban failed: %s", exc)
        await admin.finish(_t("failed"))
    await admin.finish(_t("banned", key=req.user_key))


async def _unban(bot: Bot, event: Event, arg: Message[Any]) -> None:
    ctx = await _guard(admin, bot, event)
    try:
        key = core.parse_unban(_args(arg))
        removed = await Ban.filter(user_key=key).delete()
        await _audit(ctx.user_key, "unban", {"user": key})
        await _publish(core.ACCESS_CHANNEL, {"kind": "unban", "key": key})
    except core.UsageError as exc:
        await admin.finish(_t("usage", usage=str(exc)))
    await admin.finish(_t("unbanned" if removed else "not_banned", key=key))


async def _budget(bot: Bot, event: Event, arg: Message[Any]) -> None:
    ctx = await _guard(admin, bot, event)
    try:
        req = core.parse_budget(_args(arg))
        await BudgetOverride.update_or_create(
            scope_kind=req.kind,
            scope_key=req.key,
            defaults={"daily_limit": req.daily, "monthly_limit": req.monthly},
        )
        detail = {
            "kind": req.kind,
            "key": req.key,
            "daily": req.daily,
            "monthly": req.monthly,
        }
        await _audit(ctx.user_key, "budget", detail)
        await _publish(core.BUDGET_CHANNEL, {"kind": req.kind, "key": req.key})
    except core.UsageError as exc:
        await admin.finish(_t("usage", usage=str(exc)))
    default = _t("default")
    await admin.finish(
        _t(
            "budget_set",
            kind=req.kind,
            key=req.key,
            daily=default if req.daily is None else req.daily,
            monthly=default if req.monthly is None else req.monthly,
        )
    )


async def _word(bot: Bot, event: Event, arg: Message[Any]) -> None:
    ctx = await _guard(admin, bot, event)
    try:
        req = core.parse_word(_args(arg))
        if req.op == "add":
            await SensitiveWord.get_or_create(
                word=req.word,
                category=req.category,
                defaults={"created_by": ctx.user_key},
            )
        else:
            await SensitiveWord.filter(word=req.word, category=req.category).delete()
        await _audit(
            ctx.user_key, f"word.{req.op}", {"word": req.word, "category": req.category}
        )
        await _publish(
            core.WORDS_CHANNEL,
            {"op": req.op, "word": req.word, "category": req.category},
        )
    except core.UsageError as exc:
        await admin.finish(_t("usage", usage=str(exc)))
    done = "word_added" if req.op == "add" else "word_removed"
    await admin.finish(_t(done, category=req.category))


def _check_pattern(req: core.KeywordArgs) -> str | None:
    """Why the keyword plugin would reject this rule, when it is loaded."""
    kw = sys.modules.get("plugins.keywords.core")
    if kw is None:
        return None
    try:
        kw.validate(kw.Rule(pattern=req.pattern, reply=req.reply, match=req.match))
    except ValueError as exc:
        return str(exc)
    return None


async def _keyword(bot: Bot, event: Event, arg: Message[Any]) -> None:
    ctx = await _guard(admin, bot, event)
    try:
        req = core.parse_keyword(_args(arg))
    except core.UsageError as exc:
        await admin.finish(_t("usage", usage=str(exc)))
    if req.op == "del":
        removed = await KeywordRule.filter(id=req.rule_id).delete()
        await _audit(ctx.user_key, "keyword.del", {"id": req.rule_id})
        await _publish(core.KEYWORDS_CHANNEL, {"op": "del", "id": req.rule_id})
        await admin.finish(
            _t("rule_removed", id=req.rule_id) if removed else _t("no_rule")
        )
    problem = _check_pattern(req)
    if problem:
        await admin.finish(_t("rejected", problem=problem))
    rule = await KeywordRule.create(
        scope=req.scope,
        match=req.match,
        pattern=req.pattern,
        reply=req.reply,
        priority=req.priority,
    )
    await _audit(
        ctx.user_key,
        "keyword.add",
        {
            "id": rule.id,
            "match": req.match,
            "pattern": req.pattern,
            "scope": req.scope,
            "priority": req.priority,
        },
    )
    await _publish(core.KEYWORDS_CHANNEL, {"op": "add", "id": rule.id})
    await admin.finish(_t("rule_added", id=rule.id))


async def _help(bot: Bot, event: Event, arg: Message[Any]) -> None:
    await console.help_command(admin, bot, event)


async def _group(bot: Bot, event: Event, arg: Message[Any]) -> None:
    await console.group_command(admin, bot, event, console.args_of(arg))


async def _usage(bot: Bot, event: Event, arg: Message[Any]) -> None:
    await console.usage_command(admin, bot, event, console.args_of(arg))


async def _status(bot: Bot, event: Event, arg: Message[Any]) -> None:
    await console.status_command(admin, bot, event)


_COMMANDS = {
    "ban": _ban,
    "unban": _unban,
    "budget": _budget,
    "word": _word,
    "keyword": _keyword,
    "group": _group,
    "usage": _usage,
}
#: generic names community plugins use too: theirs answers when loaded
_GENERIC = {"help": _help, "帮助": _help, "menu": _help, "status": _status}


@on_commands(*_COMMANDS)
async def _dispatch(bot: Bot, event: Event, state: T_State) -> None:
    name, arg = command_of(state), command_arg(state)
    if await console.list_subcommand(admin, bot, event, name, console.args_of(arg)):
        return
    await _COMMANDS[name](bot, event, arg)


@on_commands(*_GENERIC, yield_to_plugins=True)
async def _dispatch_generic(bot: Bot, event: Event, state: T_State) -> None:
    await _GENERIC[command_of(state)](bot, event, command_arg(state))
