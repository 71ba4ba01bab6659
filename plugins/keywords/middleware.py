"""The keyword middleware (order KEYWORDS) and its rule service.

Rules come from the config and the ``KeywordRule`` table; admins publish on the
``keywords`` channel after a change and every instance reloads.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Any

from tortoise.exceptions import BaseORMException
from tortoise.expressions import F

from bot.chain import Middleware, NextFn
from bot.context import ChatContext
from bot.metrics import KEYWORD_HITS
from bot.runtime import get_runtime
from bot.state import FeedWatcher, StateStore
from bot.store.models import KeywordRule

from .config import Config
from .core import KeywordIndex, Rule

log = logging.getLogger(__name__)

CHANNEL = "keywords"


async def publish_keyword_change(
    op: str, rule_id: int = 0, *, state: StateStore | None = None
) -> None:
    await (state or get_runtime().state).publish(CHANNEL, {"op": op, "id": rule_id})


def config_rules(config: Config) -> list[Rule]:
    rules = []
    for i, raw in enumerate(config.keywords_rules):
        rules.append(
            Rule(
                pattern=str(raw.get("pattern", "")),
                reply=str(raw.get("reply", "")),
                match=str(raw.get("match", "contains")),
                scope=str(raw.get("scope", "global")),
                priority=int(raw.get("priority", 0)),
                id=-(i + 1),  # config rules count as older than any table row
            )
        )
    return rules


async def database_rules() -> list[Rule]:
    try:
        rows = await KeywordRule.filter(enabled=True).values(
            "id", "scope", "match", "pattern", "reply", "priority"
        )
    except (BaseORMException, OSError) as exc:
        log.warning("keyword rules not loaded from the database (%s)", exc)
        return []
    return [Rule(**row) for row in rows]


class KeywordService:
    def __init__(self, config: Config, *, state: StateStore | None = None) -> None:
        self.config = config
        self.state = state
        self.index: KeywordIndex | None = None
        self._lock = asyncio.Lock()
        self._feed = FeedWatcher(CHANNEL, self._changed, coalesce=True)

    async def reload(self) -> KeywordIndex:
        rules = config_rules(self.config) + await database_rules()
        self.index = KeywordIndex(
            rules,
            max_input=self.config.keywords_max_input,
            regex_timeout=self.config.keywords_regex_timeout,
        )
        return self.index

    async def get(self) -> KeywordIndex:
        if self.index is None:
            async with self._lock:
                if self.index is None:
                    # subscribe first, then load: no change is missed
                    await self._feed.start(self.state or get_runtime().state)
                    await self.reload()
        assert self.index is not None
        return self.index

    async def _changed(self, message: dict[str, Any]) -> None:
        await self.reload()

    async def stop(self) -> None:
        await self._feed.stop()


async def _count_hit(rule_id: int) -> None:
    try:
        await KeywordRule.filter(id=rule_id).update(
            hit_count=F("hit_count") + 1, last_hit_at=dt.datetime.now(dt.UTC)
        )
    except (BaseORMException, OSError) as exc:
        log.debug("keyword hit of rule %d not counted: %s", rule_id, exc)


def record_hit(rule_id: int) -> None:
    """Count a rule's answer: the metric now, the table's counter off the path."""
    KEYWORD_HITS.labels(str(rule_id)).inc()
    if rule_id > 0:  # rules from the config file have no row
        get_runtime().spawn(_count_hit(rule_id), name="keyword-hit")


def make_middleware(service: KeywordService) -> Middleware:
    async def keywords(ctx: ChatContext, call_next: NextFn) -> None:
        index = await service.get()
        rule = index.find(ctx.text, ctx.group_key) if index.size else None
        if rule is not None:
            ctx.extra["keyword_rule"] = rule.id
            ctx.respond(rule.reply, reason="keyword")
            record_hit(rule.id)
            return
        await call_next()

    return keywords
