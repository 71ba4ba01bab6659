"""Hardening shared by the QQ, WeChat and iLink adapters.

- :class:`ThrottledLog`: bad frames are logged, but at most a few per interval, so a
  peer that sends garbage cannot flood the log (or the disk).
- :class:`EchoStore`: matches API replies to calls by their ``echo``, whatever its
  type; unknown or malformed echoes are ignored instead of raising.
- :class:`EntryGate`: bounds the events being handled per bot and overall; what does
  not fit is shed at the adapter entry, before NoneBot starts a task for it.
- :class:`BusyNotifier`: the optional "busy, try again" answer for shed messages, at
  most one per chat per cooldown and a few in flight, so shedding stays cheap.
- :func:`handling_once`: a platform message id claimed across instances for as long
  as it is being answered (a :class:`bot.state.lease.Lease`), then for the
  dedup window; released when answering fails, so the platform's next delivery is
  answered. While the instance drains (shutdown) it takes no new messages.
- :func:`validate_event`: an event dict into its model, without the stock adapter's
  per-call schema building.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from nonebot.adapters import Message
from nonebot.utils import logger_wrapper
from pydantic import BaseModel

from bot.exceptions import FreeChatError
from bot.metrics import SHED
from bot.runtime import get_runtime, has_runtime
from bot.state.lease import Lease

Log = Callable[..., None]


def _short(value: Any, limit: int = 200) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} chars)"


class ThrottledLog:
    """Log at most ``burst`` records per ``interval`` seconds; count the rest."""

    def __init__(
        self,
        name: str,
        *,
        interval: float = 30.0,
        burst: int = 5,
        level: str = "WARNING",
    ) -> None:
        self._log = logger_wrapper(name)
        self.interval = interval
        self.burst = burst
        self.level = level
        self._window = 0.0
        self._count = 0
        self.suppressed = 0
        self.total = 0

    def __call__(self, message: str, raw: Any = None) -> None:
        self.total += 1
        now = time.monotonic()
        if now - self._window >= self.interval:
            if self.suppressed:
                self._log(
                    self.level, f"{self.suppressed} more bad frames skipped silently"
                )
            self._window, self._count, self.suppressed = now, 0, 0
        if self._count < self.burst:
            self._count += 1
            detail = f": {_short(raw)}" if raw is not None else ""
            self._log(self.level, f"{message}{detail}")
        else:
            self.suppressed += 1


class EchoStore:
    """Futures of API calls in flight, keyed by the echo string sent."""

    def __init__(self) -> None:
        self._seq = itertools.count(1)
        self._futures: dict[str, asyncio.Future[dict[str, Any]]] = {}

    def register(self) -> tuple[str, asyncio.Future[dict[str, Any]]]:
        """A fresh echo and the future its reply completes."""
        echo = str(next(self._seq))
        future: asyncio.Future[dict[str, Any]] = (
            asyncio.get_running_loop().create_future()
        )
        self._futures[echo] = future
        return echo, future

    def resolve(self, data: dict[str, Any]) -> bool:
        """Complete the call ``data`` answers; False when nothing waits for it."""
        echo = data.get("echo")
        if isinstance(echo, bool) or not isinstance(echo, str | int):
            return False
        future = self._futures.get(str(echo))
        if future is None or future.done():
            return False
        future.set_result(data)
        return True

    async def wait(
        self, echo: str, future: asyncio.Future[dict[str, Any]], wait_s: float | None
    ) -> dict[str, Any]:
        try:
            return await asyncio.wait_for(future, wait_s)
        finally:
            self._futures.pop(echo, None)

    def forget(self, echo: str) -> None:
        self._futures.pop(echo, None)

    def __len__(self) -> int:
        return len(self._futures)


class EntryGate:
    """A non-blocking bound on events in flight, per bot and across adapters.

    ``per_bot`` is this adapter's setting; the overall bound is
    ``server.max_in_flight`` (read at call time) shared by every gate in the process.
    """

    _total = 0

    def __init__(self, per_bot: int) -> None:
        self.per_bot = per_bot
        self._by_bot: dict[str, int] = {}

    @staticmethod
    def _overall_limit() -> int | None:
        if not has_runtime():
            return None
        return int(get_runtime().settings.server.max_in_flight)

    def try_enter(self, bot_id: str) -> bool:
        current = self._by_bot.get(bot_id, 0)
        if current >= self.per_bot:
            return False
        limit = self._overall_limit()
        if limit is not None and EntryGate._total >= limit:
            return False
        self._by_bot[bot_id] = current + 1
        EntryGate._total += 1
        return True

    def leave(self, bot_id: str) -> None:
        left = self._by_bot.get(bot_id, 1) - 1
        if left > 0:
            self._by_bot[bot_id] = left
        else:
            self._by_bot.pop(bot_id, None)
        EntryGate._total = max(0, EntryGate._total - 1)

    def in_flight(self, bot_id: str | None = None) -> int:
        if bot_id is None:
            return sum(self._by_bot.values())
        return self._by_bot.get(bot_id, 0)


class BusyNotifier:
    """Sends the "busy" answer for shed messages, cheaply and boundedly."""

    def __init__(
        self,
        platform: str,
        *,
        mode: str,
        cooldown: float,
        max_sending: int = 4,
        max_chats: int = 4096,
    ) -> None:
        self.platform = platform
        self.mode = mode
        self.cooldown = cooldown
        self.max_sending = max_sending
        self.max_chats = max_chats
        self._last: OrderedDict[str, float] = OrderedDict()
        self._sending = 0
        self._shed = SHED.labels(platform)
        self.tasks: set[asyncio.Task[Any]] = set()

    def shed(self, chat: str, send: Callable[[], Awaitable[Any]] | None) -> bool:
        """Count one shed message; maybe answer it. True when an answer was started."""
        self._shed.inc()
        if self.mode != "reply" or send is None or self._sending >= self.max_sending:
            return False
        now = time.monotonic()
        last = self._last.get(chat)
        if last is not None and now - last < self.cooldown:
            return False
        self._last[chat] = now
        self._last.move_to_end(chat)
        while len(self._last) > self.max_chats:
            self._last.popitem(last=False)
        self._sending += 1
        task = asyncio.create_task(self._send(send))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return True

    async def _send(self, send: Callable[[], Awaitable[Any]]) -> None:
        try:
            await send()
        except Exception as exc:  # the busy answer is best effort
            logger_wrapper(self.platform)("DEBUG", f"busy answer failed: {exc!r}")
        finally:
            self._sending -= 1


class RecentIds:
    """The message ids admitted lately, to drop repeats before they take a slot.

    A cheap, synchronous first line of deduplication in front of the gate; the
    shared claim (:func:`handling_once`) still decides across instances. Two plain
    dicts of strings take turns (at least the last ``size / 2`` ids are known):
    unlike an ``OrderedDict``, they are not walked by the garbage collector.
    """

    def __init__(self, size: int = 20_000) -> None:
        self._ids: dict[str, None] = {}
        self._older: dict[str, None] = {}
        self._half = max(1, size // 2)

    def __contains__(self, key: str) -> bool:
        return key in self._ids or key in self._older

    def add(self, key: str) -> None:
        self._ids[key] = None
        if len(self._ids) >= self._half:
            self._older, self._ids = self._ids, {}

    def discard(self, key: str) -> None:
        """Forget ``key``: its next delivery goes to the shared claim again (this
        instance did not answer it: another one holds it, or it was given back)."""
        self._ids.pop(key, None)
        self._older.pop(key, None)


class _LocalClaims:
    """Process-local claims, used when no shared state answers: the last
    ``size / 2`` to ``size`` claims, in two plain dicts taking turns (see
    :class:`RecentIds`)."""

    def __init__(self, size: int = 65536) -> None:
        self._keys: dict[str, float] = {}
        self._older: dict[str, float] = {}
        self._half = max(1, size // 2)

    def claim(self, key: str, ttl: float) -> bool:
        now = time.monotonic()
        expires = self._keys.get(key) or self._older.get(key)
        if expires is not None and expires > now:
            return False
        self._keys[key] = now + ttl
        if len(self._keys) >= self._half:
            self._older, self._keys = self._keys, {}
        return True


_local = _LocalClaims()
_claim_log = ThrottledLog("dedup", interval=60.0, burst=3)


@contextlib.asynccontextmanager
async def handling_once(
    platform: str, self_id: str, message_id: str, ttl: float
) -> AsyncIterator[bool]:
    """``async with handling_once(...) as mine``: True for the one caller (across
    instances) that answers this message, inside the block; ``ttl``: how long a
    message answered stays claimed."""
    key = f"dedup:{platform}:{self_id}:{message_id}"
    if not has_runtime():
        yield _local.claim(key, ttl)
        return
    rt = get_runtime()
    if rt.draining:  # shutting down: leave it to another instance
        yield False
        return
    try:
        lease = await Lease.take(rt.state, key, min(rt.settings.state.claim_lease, ttl))
    except FreeChatError as exc:
        # neither Redis nor the database can record it: answering could answer
        # twice, so the message waits for the platform to send it again
        _claim_log(f"message {message_id} not handled: no store can claim it ({exc})")
        yield False
        return
    if lease is None:
        yield False
        return
    async with lease.held(ttl, tasks=rt.handling):
        yield True


def validate_event(model: type[BaseModel], data: dict[str, Any]) -> Any:
    """``data`` validated as ``model`` (a OneBot event class); raises like pydantic.

    The stock adapters call ``type_validate_python``, which builds a pydantic
    ``TypeAdapter`` for the event class and another one for every message segment,
    on every event: about a tenth of a message's whole cost under load. The model's
    own validator gives the same result. A message given as a list of well-formed
    segments is built directly (anything else is left to the model to validate,
    or reject).
    """
    message = data.get("message")
    if isinstance(message, list) and message:
        field = model.model_fields.get("message")
        cls = field.annotation if field is not None else None
        if isinstance(cls, type) and issubclass(cls, Message):
            segment = cls.get_segment_class()
            if all(
                isinstance(seg, dict)
                and isinstance(seg.get("type"), str)
                and isinstance(seg.get("data", {}), dict)
                for seg in message
            ):
                data = {
                    **data,
                    "message": cls(
                        segment(type=seg["type"], data=seg.get("data", {}))
                        for seg in message
                    ),
                }
    return model.model_validate(data)
