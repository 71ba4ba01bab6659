"""Per-group settings, and the wake decision every group adapter asks for.

A group's settings (:class:`GroupSettings`) live in the ``GroupSetting`` table as
JSON; every instance keeps them all in memory and reloads one group when a change
is published on the ``groups`` channel (:func:`publish_change`), so a change made
on one instance is in effect on all of them at once.

Wake modes decide which group messages the bot answers. An @-mention or a reply to
the bot (``to_me``) and the platform's global prefixes wake it in every mode; the
mode adds one more trigger:

* ``mention``: nothing more (the default);
* ``prefix``: the text starts with one of the group's own ``prefixes``;
* ``nickname``: the text contains one of the group's ``names``;
* ``all``: every message;
* ``random``: any message, with ``probability``.

A group that is not ``enabled`` is never answered. Admin commands are not chat
messages: while :func:`commanding` is active the wake rules are skipped, so a
superuser's ``/command`` works in a group without an @.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import datetime as dt
import json
import logging
import random
from collections.abc import Iterator
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from tortoise.exceptions import BaseORMException

from bot.chain import NextFn
from bot.context import ChatContext
from bot.i18n import t
from bot.platform import strip_prefix
from bot.state import FeedWatcher, StateStore
from bot.store.models import GroupSetting, Persona

log = logging.getLogger(__name__)

CHANNEL = "groups"
WakeMode = Literal["mention", "prefix", "nickname", "all", "random"]
WAKE_MODES: tuple[str, ...] = ("mention", "prefix", "nickname", "all", "random")
#: how often a group's ``last seen`` time is written at most (seconds)
SEEN_EVERY = 300.0


class GroupSettings(BaseModel):
    """What an operator can set for one group (the admin API's body, too)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    wake: WakeMode = "mention"
    prefixes: list[str] = Field(default_factory=list, max_length=20)
    names: list[str] = Field(default_factory=list, max_length=20)
    probability: float = Field(0.0, ge=0.0, le=1.0)
    #: a named persona (``Persona`` table) or an inline system prompt
    persona: str | None = Field(None, max_length=64)
    system_prompt: str | None = Field(None, max_length=4000)
    model: str | None = Field(None, max_length=128)
    #: ``group``: one shared history; ``user``: each member has their own
    history: Literal["group", "user"] = "group"
    #: messages per minute the whole group may send the bot (None: the default)
    rate_limit: int | None = Field(None, ge=0, le=100_000)

    def model_post_init(self, _context: Any) -> None:
        # triggers are compared as typed: trimmed, no empty entries, at most 32 chars
        self.prefixes = [p.strip()[:32] for p in self.prefixes if p.strip()]
        self.names = [n.strip()[:32] for n in self.names if n.strip()]


DEFAULT = GroupSettings()

_cache: dict[str, GroupSettings] = {}
_names: dict[str, str] = {}
_seen: dict[str, float] = {}
_personas: dict[str, str] = {}
_lock = asyncio.Lock()
_feed: FeedWatcher | None = None
_commanding: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "freechat_commanding", default=False
)


def parse(raw: str) -> GroupSettings:
    """Settings from their stored JSON; the defaults when empty or unreadable."""
    if not raw:
        return GroupSettings()
    try:
        return GroupSettings.model_validate_json(raw)
    except ValidationError as exc:
        log.warning("unreadable group settings, defaults used: %s", exc)
        return GroupSettings()


async def _load_one(key: str) -> None:
    row = await GroupSetting.get_or_none(group_key=key)
    if row is None:
        _cache.pop(key, None)
        return
    _cache[key] = parse(row.settings)
    _names[key] = row.name


async def _load_all() -> None:
    rows = await GroupSetting.all().values_list("group_key", "settings", "name")
    _cache.clear()
    for key, raw, name in rows:
        _cache[str(key)] = parse(str(raw))
        _names[str(key)] = str(name)
    await _load_personas()


async def _load_personas() -> None:
    rows = await Persona.all().values_list("name", "prompt")
    _personas.clear()
    _personas.update((str(n), str(p)) for n, p in rows)


async def _changed(message: dict[str, Any]) -> None:
    key = message.get("key")
    if message.get("personas"):
        await _load_personas()
    elif isinstance(key, str) and key:
        await _load_one(key)
    else:
        await _load_all()


async def start(state: StateStore) -> None:
    """Watch the change feed, then load every group's settings."""
    global _feed
    async with _lock:
        if _feed is None:
            _feed = FeedWatcher(CHANNEL, _changed)
            await _feed.start(state)
        try:
            await _load_all()
        except (BaseORMException, OSError) as exc:
            log.warning("group settings not loaded yet (%s)", exc)


async def stop() -> None:
    global _feed
    if _feed is not None:
        await _feed.stop()
        _feed = None
    _cache.clear()
    _names.clear()
    _seen.clear()
    _personas.clear()


async def publish_change(state: StateStore, key: str) -> None:
    """Tell every instance to reload ``key``'s settings (after the write)."""
    await state.publish(CHANNEL, {"key": key})


async def publish_personas(state: StateStore) -> None:
    """Tell every instance to reload the named personas."""
    await state.publish(CHANNEL, {"personas": True})


def persona_names() -> set[str]:
    return set(_personas)


def persona_prompt(settings: GroupSettings) -> str | None:
    """The system prompt a group's settings name: inline, else the named persona."""
    if settings.system_prompt:
        return settings.system_prompt
    if settings.persona:
        return _personas.get(settings.persona)
    return None


def settings_for(group_key: str | None) -> GroupSettings:
    """The settings of ``group_key`` (the defaults for a group never set)."""
    if not group_key:
        return DEFAULT
    return _cache.get(group_key, DEFAULT)


@contextlib.contextmanager
def commanding() -> Iterator[None]:
    """Build contexts for commands: the wake rules do not apply inside."""
    token = _commanding.set(True)
    try:
        yield
    finally:
        _commanding.reset(token)


def _note_seen(group_key: str, name: str) -> None:
    """Record the group as seen (at most every SEEN_EVERY seconds per group)."""
    loop = asyncio.get_running_loop()
    now = loop.time()
    if now - _seen.get(group_key, -SEEN_EVERY) < SEEN_EVERY:
        return
    _seen[group_key] = now

    async def write() -> None:
        try:
            row, created = await GroupSetting.get_or_create(
                group_key=group_key,
                defaults={"name": name[:200], "last_seen_at": dt.datetime.now(dt.UTC)},
            )
            if not created:
                row.last_seen_at = dt.datetime.now(dt.UTC)
                if name:
                    row.name = name[:200]
                await row.save(update_fields=["last_seen_at", "name"])
        except (BaseORMException, OSError) as exc:
            log.debug("group %s not recorded: %s", group_key, exc)

    from bot.runtime import get_runtime, has_runtime

    if has_runtime():
        get_runtime().spawn(write(), name="group-seen")


def wake(
    group_key: str,
    text: str,
    *,
    to_me: bool,
    prefixes: list[str] | tuple[str, ...] = (),
    name: str = "",
) -> str | None:
    """The text to answer for a group message, or None to stay silent.

    ``prefixes`` are the platform's global prefixes (stripped from the answer's
    text); the group's own ``prefix`` triggers are stripped too.
    """
    _note_seen(group_key, name)
    if _commanding.get():
        return text
    settings = settings_for(group_key)
    if not settings.enabled:
        return None
    stripped = strip_prefix(text, list(prefixes))
    if stripped is not None:
        return stripped
    if to_me:
        return text
    mode = settings.wake
    if mode == "prefix":
        return strip_prefix(text, settings.prefixes)
    if mode == "nickname":
        folded = text.casefold()
        hit = any(n.casefold() in folded for n in settings.names)
        return text if hit else None
    if mode == "all":
        return text
    if mode == "random":
        # not a secret: which message gets a random answer
        return text if random.random() < settings.probability else None
    return None


def known_groups() -> dict[str, str]:
    """Group keys this instance has settings or a name for, with their names."""
    return {key: _names.get(key, "") for key in {*_cache, *_names}}


def dump(settings: GroupSettings) -> str:
    return json.dumps(settings.model_dump(), ensure_ascii=False, sort_keys=True)


async def middleware(ctx: ChatContext, call_next: NextFn) -> None:
    """Apply the group's history mode, persona, model and rate limit (order
    ``orders.GROUPS``: before history, which replaces the persona set here only
    when the session has its own from ``/persona``)."""
    key = ctx.group_key
    if key is None:
        await call_next()
        return
    settings = settings_for(key)
    if settings.history == "user":
        ctx.session_id = f"{key}:user:{ctx.user_id}"
    prompt = persona_prompt(settings)
    if prompt:  # over the global default; a session's own /persona still wins
        ctx.system_prompt = prompt
    if settings.model and not ctx.model:
        ctx.model = settings.model
    if settings.rate_limit:
        from bot.runtime import get_runtime

        rt = get_runtime()
        result = await rt.state.hit(f"group-rate:{key}", settings.rate_limit, 60.0)
        if not result.allowed:
            ctx.respond(
                t("group_rate_limited", rt.settings.locale), reason="group_rate"
            )
            return
    await call_next()


async def save_settings(
    state: StateStore, key: str, settings: GroupSettings, actor: str
) -> GroupSettings:
    """Store ``settings`` for group ``key``, audit the change and publish it (the
    chat commands and the CLI use this; the admin API adds budgets and plugins)."""
    from bot.store.models import AuditLog

    row, created = await GroupSetting.get_or_create(group_key=key)
    before = None if created else parse(row.settings)
    row.settings = dump(settings)
    await row.save()
    await AuditLog.create(
        actor=actor[:191],
        action="group.update",
        target=f"group:{key}"[:191],
        before=dump(before) if before else "",
        after=dump(settings),
    )
    await publish_change(state, key)
    return settings
