"""Per-instance cache of each session's current conversation id and settings, and
of each conversation's last messages.

Two of the plugin's database reads per message (which conversation, which persona)
change only on ``/reset`` and ``/persona``; those publish on the ``history``
channel, and every instance drops the session's entries at once.

The third read, the conversation's last messages, is served from memory too: the
rows are loaded once, and each saved exchange is appended. When an instance has
written messages it publishes the conversations on the same channel, and the other
instances drop their copies (an instance ignores its own notices). Entries expire
after ``ttl`` seconds, so a missed message heals by itself; at most
``max_conversations`` conversations are kept, the least recently used go first.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Iterable
from typing import Any

from bot.runtime import get_runtime
from bot.state import FeedWatcher, StateStore

CHANNEL = "history"
_MISSING = object()


async def publish_session_change(
    session_key: str, state: StateStore | None = None
) -> None:
    await (state or get_runtime().state).publish(CHANNEL, {"session": session_key})


Row = tuple[str, str]


class SessionCache:
    def __init__(
        self, ttl: float = 60.0, max_size: int = 100_000, max_conversations: int = 5000
    ) -> None:
        self.ttl = ttl
        self.max_size = max_size
        self.max_conversations = max_conversations
        self._items: dict[tuple[str, str], tuple[Any, float]] = {}
        self._recent: OrderedDict[str, tuple[deque[Row], float]] = OrderedDict()
        #: saves per conversation (and an epoch, bumped when the counts are reset),
        #: so a load from the database can tell a save happened while it ran
        self._saves: dict[str, int] = {}
        self._epoch = 0
        self._feed = FeedWatcher(CHANNEL, self._changed)
        self.origin = ""

    def get(self, kind: str, session_key: str) -> Any:
        """The cached value, or ``SessionCache.MISSING``."""
        item = self._items.get((kind, session_key))
        if item is None or item[1] <= time.monotonic():
            return _MISSING
        return item[0]

    def put(self, kind: str, session_key: str, value: Any) -> None:
        if len(self._items) >= self.max_size:
            self._items.clear()
        self._items[(kind, session_key)] = (value, time.monotonic() + self.ttl)

    def forget(self, session_key: str) -> None:
        for kind in ("conversation", "setting"):
            self._items.pop((kind, session_key), None)

    MISSING = _MISSING

    # ------------------------------------------------ a conversation's last rows
    def recent(self, conversation_id: str, limit: int) -> list[Row] | None:
        """The conversation's last ``limit`` rows, oldest first, or None."""
        item = self._recent.get(conversation_id)
        if item is None or self.ttl <= 0:
            return None
        rows, expires = item
        if expires <= time.monotonic() or rows.maxlen != limit:
            del self._recent[conversation_id]
            return None
        self._recent.move_to_end(conversation_id)
        return list(rows)

    def put_recent(self, conversation_id: str, rows: Iterable[Row], limit: int) -> None:
        if self.ttl <= 0 or limit <= 0:
            return
        self._recent[conversation_id] = (
            deque(rows, maxlen=limit),
            time.monotonic() + self.ttl,
        )
        self._recent.move_to_end(conversation_id)
        while len(self._recent) > self.max_conversations:
            self._recent.popitem(last=False)

    def append_recent(self, conversation_id: str, rows: Iterable[Row]) -> None:
        """Rows just saved (kept only when the conversation's rows are cached)."""
        if len(self._saves) >= self.max_size:
            self._saves.clear()
            self._epoch += 1
        self._saves[conversation_id] = self._saves.get(conversation_id, 0) + 1
        item = self._recent.get(conversation_id)
        if item is not None:
            item[0].extend(rows)

    def save_mark(self, conversation_id: str) -> tuple[int, int]:
        """Changes when an exchange of the conversation is saved: rows loaded from
        the database are cached only if it did not change during the load."""
        return self._epoch, self._saves.get(conversation_id, 0)

    def forget_recent(self, conversation_ids: Iterable[str]) -> None:
        for cid in conversation_ids:
            self._recent.pop(cid, None)

    async def announce(self, state: StateStore, conversation_ids: set[str]) -> None:
        """Tell the other instances that these conversations have new rows."""
        await state.publish(
            CHANNEL, {"conversations": sorted(conversation_ids), "origin": self.origin}
        )

    async def start(self, state: StateStore, origin: str = "") -> None:
        """Watch the feed (idempotent: a later call changes nothing)."""
        if not self._feed.running:
            self.origin = origin
            await self._feed.start(state)

    def _changed(self, message: dict[str, Any]) -> None:
        key = message.get("session")
        conversations = message.get("conversations")
        if isinstance(key, str):
            self.forget(key)
        elif isinstance(conversations, list):
            if message.get("origin") != self.origin or not self.origin:
                self.forget_recent(str(c) for c in conversations)
        else:
            self._items.clear()
            self._recent.clear()

    async def stop(self) -> None:
        await self._feed.stop()
