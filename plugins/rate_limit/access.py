"""Access checks (order ACCESS): banned users and the chat switched off for a group.

Lookups are cached for ``rate_limit_access_cache`` seconds; admins who ban, unban or
switch call :func:`publish_access_change` so every instance drops its cache at once.

When the database cannot be asked (down, starting up, shutting down, a dropped
connection) the check fails open: the message is answered as if nobody were banned
and the chat were on, and a warning is logged (at most once per 30 s).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from bot.chain import Middleware, NextFn
from bot.context import ChatContext
from bot.runtime import get_runtime
from bot.state import FeedWatcher, StateStore
from bot.store.errors import DB_ERRORS
from bot.store.models import Ban, PluginSwitch
from bot.throttle import ThrottledLog

from .config import Config
from .core import TTLCache, ban_active

log = logging.getLogger(__name__)

CHANNEL = "access"


async def publish_access_change(
    kind: str, key: str = "", *, state: StateStore | None = None
) -> None:
    await (state or get_runtime().state).publish(CHANNEL, {"kind": kind, "key": key})


class AccessService:
    """Cached ban and switch lookups, invalidated by the ``access`` feed."""

    def __init__(self, config: Config, *, state: StateStore | None = None) -> None:
        self.config = config
        self.state = state
        self.bans: TTLCache[dict[str, datetime | None]] = TTLCache(
            config.rate_limit_access_cache
        )
        self.switches: TTLCache[bool] = TTLCache(config.rate_limit_access_cache)
        self._feed = FeedWatcher(CHANNEL, self._changed)

    async def start(self) -> None:
        """Watch the feed (idempotent)."""
        if not self._feed.running:
            await self._feed.start(self.state or get_runtime().state)

    def _changed(self, message: dict[str, Any]) -> None:
        self.bans.clear()
        self.switches.clear()

    async def stop(self) -> None:
        await self._feed.stop()

    async def banned(self, user_key: str) -> bool:
        # bans are few: the whole list is cached (one query per cache period, not
        # one per new user), so unknown users cost no database round trip
        table = self.bans.get("*")
        if table is None:
            rows = await Ban.all().values_list("user_key", "until")
            table = {str(key): until for key, until in rows}
            self.bans.put("*", table)
        return user_key in table and ban_active(table[user_key])

    async def chat_enabled(self, group_key: str | None) -> bool:
        return await self.plugin_enabled("chat", group_key)

    async def plugin_enabled(self, plugin: str, group_key: str | None) -> bool:
        """Whether ``plugin`` may run in the group (or anywhere: ``None``)."""
        key = f"{plugin}|{group_key or 'global'}"
        cached = self.switches.get(key)
        if cached is not None:
            return cached
        scopes = ["global", group_key] if group_key else ["global"]
        rows = await PluginSwitch.filter(plugin=plugin, scope__in=scopes).values_list(
            "scope", "enabled"
        )
        by_scope = dict(rows)
        # a group's own switch wins over the global one
        value = bool(by_scope.get(group_key, by_scope.get("global", True)))
        self.switches.put(key, value)
        return value


def make_access_middleware(service: AccessService, config: Config) -> Middleware:
    db_down = ThrottledLog(log)  # one line per 30 s, not one per message

    async def access(ctx: ChatContext, call_next: NextFn) -> None:
        if not ctx.is_admin:
            await service.start()
            try:
                banned = await service.banned(ctx.user_key)
                enabled = await service.chat_enabled(ctx.group_key)
            except DB_ERRORS as exc:
                # the database is down: let people talk rather than lock everyone out
                db_down.log(
                    logging.WARNING,
                    "access check skipped, the database failed (%s: %s)",
                    type(exc).__name__,
                    exc,
                )
                banned, enabled = False, True
            if banned:
                log.info("banned user %s refused", ctx.user_key)
                ctx.respond(config.rate_limit_ban_message, reason="banned")
                return
            if not enabled:
                ctx.respond("", reason="disabled")
                return
        await call_next()

    return access
