"""The console in chat: ``/help`` (``/帮助``, ``/menu``), the list and show commands
(``/ban list``, ``/word list [category]``, ``/keyword list``, ``/budget show``),
``/group`` settings, ``/usage`` and ``/status``, answered in the ``locale`` setting's
language (``bot.i18n``).

Who may use what: everyone ``/help`` and their own ``/usage``; group admins (the
platform's owner/admin role) ``/group`` in their group and ``/status``; superusers
everything, in any chat, without an @ (commands skip the group's wake rules).
Everyone else gets a polite refusal.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import nonebot
from nonebot.adapters import Bot, Event, Message
from nonebot.matcher import Matcher
from nonebot.permission import SUPERUSER

from bot import __version__, groups, store
from bot.context import ChatContext
from bot.i18n import t
from bot.platform import get_platform
from bot.runtime import get_runtime
from bot.store.models import Ban, BudgetOverride, KeywordRule, SensitiveWord

#: lines a list answer shows at most (the console shows everything)
MAX_LINES = 20

SUPERUSER_LEVEL, GROUP_ADMIN, MEMBER = "superuser", "group_admin", "member"


def _locale() -> str:
    return get_runtime().settings.locale


async def identify(bot: Bot, event: Event) -> tuple[ChatContext | None, str]:
    """The sender's context (built without the group's wake rules) and level."""
    platform = get_platform(bot.adapter.get_name())
    if platform is None:
        return None, MEMBER
    with groups.commanding():
        ctx = await platform.context_factory(bot, event)
    if ctx is None:
        return None, MEMBER
    if ctx.is_admin or ctx.user_key in get_runtime().settings.superusers:
        return ctx, SUPERUSER_LEVEL
    if await SUPERUSER(bot, event):
        return ctx, SUPERUSER_LEVEL
    if ctx.group_id and _is_group_admin(ctx):
        return ctx, GROUP_ADMIN
    return ctx, MEMBER


def _is_group_admin(ctx: ChatContext) -> bool:
    typed = getattr(ctx, "sender_is_group_admin", None)
    if typed is not None:
        return bool(typed)
    return ctx.extra.get("role") in ("owner", "admin")


async def _refuse(matcher: type[Matcher]) -> None:
    await matcher.finish(t("denied", _locale()))


def _lines(header: str, rows: list[str], total: int) -> str:
    locale = _locale()
    body = rows or [t("empty", locale)]
    if total > len(rows):
        body.append(t("more", locale, n=total - len(rows)))
    return "\n".join([header, *body])


# -- /help -----------------------------------------------------------------------------


async def help_command(matcher: type[Matcher], bot: Bot, event: Event) -> None:
    _ctx, level = await identify(bot, event)
    locale = _locale()
    parts = [t("help_header", locale), t("help_member", locale)]
    if level == SUPERUSER_LEVEL:
        parts.append(t("help_admin", locale))
    elif level == GROUP_ADMIN:
        parts.append(t("help_group_admin", locale))
    await matcher.finish("\n".join(parts))


# -- list and show ---------------------------------------------------------------------


async def list_subcommand(
    matcher: type[Matcher], bot: Bot, event: Event, name: str, args: list[str]
) -> bool:
    """Answer ``/ban list``, ``/word list``, ``/keyword list``, ``/budget show``;
    False when ``args`` is not one of those (the write commands handle it)."""
    sub = args[0] if args else ""
    if (name, sub) not in {
        ("ban", "list"),
        ("word", "list"),
        ("keyword", "list"),
        ("budget", "show"),
    }:
        return False
    _ctx, level = await identify(bot, event)
    if level != SUPERUSER_LEVEL:
        await _refuse(matcher)
    locale = _locale()
    if name == "ban":
        total = await Ban.all().count()
        bans = await Ban.all().order_by("-id").limit(MAX_LINES)
        rows = [f"{b.user_key} {b.reason}".strip() for b in bans]
        await matcher.finish(_lines(t("ban_list", locale, n=total), rows, total))
    if name == "word":
        query = SensitiveWord.all()
        if len(args) > 1:
            query = query.filter(category=args[1][:64])
        total = await query.count()
        words = await query.order_by("category", "word").limit(MAX_LINES)
        rows = [f"[{w.category}] {w.word}" for w in words]
        await matcher.finish(_lines(t("word_list", locale, n=total), rows, total))
    if name == "keyword":
        total = await KeywordRule.all().count()
        rules = await KeywordRule.all().order_by("-priority", "id").limit(MAX_LINES)
        rows = [
            t(
                "keyword_line",
                locale,
                id=r.id,
                match=r.match,
                pattern=r.pattern[:40],
                reply=r.reply[:40],
                hits=r.hit_count,
            )
            for r in rules
        ]
        await matcher.finish(_lines(t("keyword_list", locale, n=total), rows, total))
    await matcher.finish(await _budget_text(args[1:]))
    return True


async def _budget_text(args: list[str]) -> str:
    """``[user|group] <platform:id>``: that scope's usage and limits."""
    locale = _locale()
    kind = "user"
    if args and args[0] in ("user", "group"):
        kind, args = args[0], args[1:]
    if len(args) != 1 or ":" not in args[0]:
        return t("usage", locale, usage="/budget show [user|group] <platform:id>")
    return await _usage_text(kind, args[0][:191])


async def _usage_text(kind: str, key: str) -> str:
    locale = _locale()
    found = nonebot.get_plugin_by_module_name("plugins.token_budget")
    if found is None:
        return t("no_budget", locale)
    from plugins.token_budget.usage import usage_of

    override = await BudgetOverride.get_or_none(scope_kind=kind, scope_key=key)
    used = await usage_of(
        get_runtime().state, found.module.config, kind, key, override=override
    )
    unlimited = t("unlimited", locale)
    return t(
        "budget_show",
        locale,
        key=key,
        day_used=used.day_used,
        day_limit=used.daily or unlimited,
        month_used=used.month_used,
        month_limit=used.monthly or unlimited,
    )


# -- /usage and /status ----------------------------------------------------------------


async def usage_command(
    matcher: type[Matcher], bot: Bot, event: Event, args: list[str]
) -> None:
    ctx, level = await identify(bot, event)
    if ctx is None:
        await matcher.finish()
    assert ctx is not None
    if args:  # someone else's: admins only
        if level != SUPERUSER_LEVEL:
            await _refuse(matcher)
        await matcher.finish(await _budget_text(args))
    await matcher.finish(await _usage_text("user", ctx.user_key))


def _uptime(seconds: float) -> str:
    minutes, _ = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h {minutes}m" if days else f"{hours}h {minutes}m"


async def status_command(matcher: type[Matcher], bot: Bot, event: Event) -> None:
    _ctx, level = await identify(bot, event)
    if level == MEMBER:
        await _refuse(matcher)
    rt = get_runtime()
    locale = _locale()
    db_ok, state_ok = await asyncio.gather(store.ping(), rt.state.ping())
    from bot.metrics import IN_FLIGHT

    await matcher.finish(
        t(
            "status",
            locale,
            version=__version__,
            uptime=_uptime(time.time() - rt.started_at),
            instance=rt.instance_id,
            in_flight=int(IN_FLIGHT._value.get()),
            model=rt.settings.llm.model or "-",
            db=t("ok" if db_ok else "down", locale),
            state=t("ok" if state_ok else "degraded", locale),
        )
    )


# -- /group ------------------------------------------------------------------------------


def _show(settings: groups.GroupSettings) -> str:
    locale = _locale()
    extra = ""
    if settings.wake == "prefix":
        extra = " " + " ".join(settings.prefixes)
    elif settings.wake == "nickname":
        extra = " " + " ".join(settings.names)
    elif settings.wake == "random":
        extra = f" {settings.probability:g}"
    persona = settings.persona or (
        settings.system_prompt[:40] if settings.system_prompt else None
    )
    return t(
        "group_show",
        locale,
        enabled=t("on" if settings.enabled else "off", locale),
        wake=settings.wake,
        extra=extra,
        persona=persona or t("default", locale),
        model=settings.model or t("default", locale),
        history=settings.history,
    )


GROUP_USAGE = (
    "/group show | on | off | wake mention|all|prefix <...>|nickname <...>|random <p>"
    " | persona <name|text|reset> | model <name|reset> | history group|user"
)


def _changed(current: groups.GroupSettings, args: list[str]) -> dict[str, Any]:
    """The fields ``/group <args>`` sets, or ValueError with the usage."""
    op, rest = args[0], args[1:]
    if op in ("on", "off") and not rest:
        return {"enabled": op == "on"}
    if op == "wake" and rest:
        mode, values = rest[0], rest[1:]
        if mode in ("mention", "all") and not values:
            return {"wake": mode}
        if mode == "prefix" and values:
            return {"wake": mode, "prefixes": values}
        if mode == "nickname" and values:
            return {"wake": mode, "names": values}
        if mode == "random" and len(values) == 1:
            return {"wake": mode, "probability": float(values[0])}
    if op == "persona" and rest:
        if rest == ["reset"]:
            return {"persona": None, "system_prompt": None}
        text = " ".join(rest)
        if len(rest) == 1 and text in groups.persona_names():
            return {"persona": text, "system_prompt": None}
        return {"persona": None, "system_prompt": text}
    if op == "model" and len(rest) == 1:
        return {"model": None if rest[0] == "reset" else rest[0]}
    if op == "history" and rest in (["group"], ["user"]):
        return {"history": rest[0]}
    raise ValueError(GROUP_USAGE)


async def group_command(
    matcher: type[Matcher], bot: Bot, event: Event, args: list[str]
) -> None:
    ctx, level = await identify(bot, event)
    locale = _locale()
    if level == MEMBER or ctx is None:
        await _refuse(matcher)
    assert ctx is not None
    key = ctx.group_key
    if key is None:
        await matcher.finish(t("group_only", locale))
    assert key is not None
    current = groups.settings_for(key)
    if not args or args == ["show"]:
        await matcher.finish(_show(current))
    try:
        changes = _changed(current, args)
        updated = groups.GroupSettings.model_validate(current.model_dump() | changes)
    except ValueError:  # pydantic's ValidationError is one too
        await matcher.finish(t("usage", locale, usage=GROUP_USAGE))
    await groups.save_settings(get_runtime().state, key, updated, ctx.user_key)
    await matcher.finish(t("group_saved", locale) + "\n" + _show(updated))


def args_of(arg: Message[Any]) -> list[str]:
    return arg.extract_plain_text().split()
