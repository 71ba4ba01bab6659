"""The running word list: files plus the database, rebuilt on the change feed.

Admins change words in the ``SensitiveWord`` table and call :func:`publish_change`;
every instance listening on the ``sensitive_words`` channel rebuilds its automaton
(off the event loop) and swaps it in, well within 2 s.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from tortoise.exceptions import BaseORMException

from bot.runtime import get_runtime
from bot.state import FeedWatcher, StateStore
from bot.store.models import SensitiveWord

from .config import Config
from .core import Action, Matcher, read_word_files
from .normalize import Normalizer

log = logging.getLogger(__name__)

CHANNEL = "sensitive_words"


async def publish_change(
    op: str, word: str = "", category: str = "", *, state: StateStore | None = None
) -> None:
    """Tell every instance that the word list changed (after the database write)."""
    await (state or get_runtime().state).publish(
        CHANNEL, {"op": op, "word": word, "category": category}
    )


async def database_words() -> list[tuple[str, str]]:
    """Words admins added; empty (with a warning) when the database is not up."""
    try:
        rows = await SensitiveWord.all().values_list("word", "category")
    except (BaseORMException, OSError) as exc:
        log.warning("sensitive words: database words not loaded (%s)", exc)
        return []
    return [(str(w), str(c)) for w, c in rows]


class WordService:
    """Holds the current :class:`Matcher` and keeps it in step with the feed."""

    def __init__(self, config: Config, *, state: StateStore | None = None) -> None:
        self.config = config
        #: the store whose feed is watched (default: the runtime's)
        self.state = state
        self.matcher: Matcher | None = None
        self.version = 0
        self._lock = asyncio.Lock()
        self._file_words: list[tuple[str, str]] | None = None
        # a burst of changes is one rebuild
        self._feed = FeedWatcher(CHANNEL, self._changed, coalesce=True)

    def _build(self, words: list[tuple[str, str]]) -> Matcher:
        cfg = self.config
        started = time.perf_counter()
        # files are read again on every reload, so an edited list applies after
        # a publish_change("reload") without a restart
        self._file_words = list(read_word_files(cfg.sensitive_words_dirs))
        normalizer = Normalizer(
            skip_chars=cfg.sensitive_words_skip_chars,
            traditional=cfg.sensitive_words_traditional,
            homoglyphs=cfg.sensitive_words_homoglyphs,
        )
        matcher = Matcher(
            [*self._file_words, *words],
            actions={
                k: Action.parse(v) for k, v in cfg.sensitive_words_categories.items()
            },
            default_action=Action.parse(cfg.sensitive_words_default_action),
            normalizer=normalizer,
            ascii_boundary=cfg.sensitive_words_ascii_boundary,
        )
        log.info(
            "sensitive words: %d words loaded in %.2f s",
            len(matcher),
            time.perf_counter() - started,
        )
        return matcher

    async def reload(self) -> Matcher:
        """Re-read the database words and swap in a new automaton."""
        words = await database_words()
        matcher = await asyncio.to_thread(self._build, words)
        self.matcher = matcher
        self.version += 1
        return matcher

    async def get(self) -> Matcher:
        """The current automaton, built (and the feed watched) on first use."""
        if self.matcher is not None:
            return self.matcher
        async with self._lock:
            if self.matcher is None:
                await self.start()
        assert self.matcher is not None
        return self.matcher

    async def start(self) -> None:
        """Subscribe to the change feed, then load (so no change is missed)."""
        await self._feed.start(self.state or get_runtime().state)
        await self.reload()

    async def _changed(self, message: dict[str, Any]) -> None:
        await self.reload()

    async def stop(self) -> None:
        await self._feed.stop()
