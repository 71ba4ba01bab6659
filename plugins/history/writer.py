"""Write-behind for history: messages are queued and written in batches.

Saving each exchange with its own statements cost two database round trips per
message; on SQLite through aiosqlite's thread each one also contends for the GIL,
and under the OneBot bench that was most of the plugin's cost. The writer keeps one
task that writes whatever is queued in one transaction (group commit: one message
at a time when idle, hundreds per statement under load), so a message waits for no
write at all.

What it promises:

* Order: rows are written in the order they were queued.
* Nothing lost on a database hiccup: a batch that fails on a connection or
  operational error stays queued and is retried with backoff (0.2 s up to 5 s).
* One bad row never blocks the others: when a batch fails for any other reason
  (text the driver cannot encode, such as a lone surrogate; a row whose
  conversation was deleted meanwhile), its rows are written one by one. A row
  that fails alone while the database answers is repaired once (lone surrogates
  and NUL characters replaced) and retried; if it still fails it is dropped,
  logged once and counted in ``freechat_history_dropped_total{reason="rejected"}``
  (repairs in ``freechat_history_repaired_total``).
* Bounded: past ``max_pending`` queued rows (the database down for long), the
  oldest are dropped with an error log and counted in
  ``freechat_history_dropped_total``.
* Shutdown writes what is left (up to ``stop_timeout`` seconds).
* Read-your-writes: :meth:`flush` returns once everything queued before the call is
  in the database; :func:`bot.store.flush_pending` reaches it, and the web API calls
  that before it lists messages.
* Durable with a journal (:mod:`.journal`, when Redis is configured): an exchange
  queued with :meth:`add_durable` is journaled first and taken out of the journal
  once written, so a crash loses none; a batch never splits an exchange, so a
  replay never writes half of one again. Without one, a crash loses what is queued: normally
  under a second of messages, at most ``max_pending`` rows.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from prometheus_client import Counter
from redis.exceptions import RedisError
from tortoise import connections
from tortoise.transactions import in_transaction

from bot.store.errors import is_transient
from bot.store.models import Conversation, Message

from .journal import RedisJournal, Ref
from .store import Bumps, repair_row

log = logging.getLogger(__name__)

DROPPED = Counter(
    "freechat_history_dropped_total",
    "History messages not saved (queue full, or rejected by the database)",
    ["reason"],
)

REPAIRED = Counter(
    "freechat_history_repaired_total",
    "History messages saved after their text was repaired (lone surrogates, NUL)",
)

OnFlushed = Callable[[set[str]], Awaitable[None]]


class HistoryWriter:
    def __init__(
        self,
        *,
        #: rows per transaction: bounds the loop's time in one batch (bulk_create
        #: builds the rows and the SQL in the main thread)
        max_batch: int = 100,
        max_pending: int = 100_000,
        stop_timeout: float = 10.0,
        on_flushed: OnFlushed | None = None,
        journal: RedisJournal | None = None,
    ) -> None:
        self.max_batch = max_batch
        self.max_pending = max_pending
        self.stop_timeout = stop_timeout
        self.on_flushed = on_flushed
        self._queue: deque[Message] = deque()
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        #: rows queued so far and rows written so far (flush waits for the first
        #: to be reached by the second)
        self._queued = 0
        self._written = 0
        self._progress = asyncio.Condition()
        self._bumps = Bumps()
        #: conversations that still have rows in the queue, with how many
        self._pending_in: dict[str, int] = {}
        #: transactions written, and attempts that failed and were retried
        self.batches = 0
        self.failures = 0
        self.journal = journal
        #: the last row of each queued exchange (a batch ends only after one),
        #: with its journal entry when it has one
        self._ends: dict[int, Ref | None] = {}
        self._acks: list[Ref] = []
        #: journal appends are skipped until then after Redis failed (monotonic)
        self._journal_down_until = 0.0

    # ------------------------------------------------------------------ queueing
    async def add_durable(self, rows: list[Message]) -> None:
        """Journal one exchange's ``rows`` (when there is a journal), then queue
        them. Redis failing costs durability, never the exchange."""
        ref: Ref | None = None
        if self.journal is not None and time.monotonic() >= self._journal_down_until:
            try:
                ref = await self.journal.append(rows)
            except (RedisError, OSError) as exc:
                self._journal_down_until = time.monotonic() + 5.0
                log.warning("history journal unavailable for 5 s: %s", exc)
        self.add(rows, ref)

    def add(self, rows: list[Message], ref: Ref | None = None) -> None:
        """Queue one exchange's ``rows`` (unsaved ``Message`` objects) for
        writing; ``ref``: its journal entry, taken out once they are written."""
        if not rows:
            return
        self._ends[id(rows[-1])] = ref
        for row in rows:
            cid = str(row.conversation_id)
            self._pending_in[cid] = self._pending_in.get(cid, 0) + 1
        self._queue.extend(rows)
        self._queued += len(rows)
        overflow = len(self._queue) - self.max_pending
        if overflow > 0:
            for _ in range(overflow):
                self._forget(self._queue.popleft())
            self._written += overflow  # never to be written: flush must not wait
            DROPPED.labels("queue_full").inc(overflow)
            log.error(
                "history: %d messages dropped, the database is not keeping up", overflow
            )
        self._wakeup.set()

    def pending(self, conversation_id: str) -> bool:
        """Rows of this conversation are queued and not yet written."""
        return conversation_id in self._pending_in

    def _forget(self, row: Message) -> None:
        if id(row) in self._ends:
            ref = self._ends.pop(id(row))
            if ref is not None:
                self._acks.append(ref)
        cid = str(row.conversation_id)
        left = self._pending_in.get(cid, 0) - 1
        if left > 0:
            self._pending_in[cid] = left
        else:
            self._pending_in.pop(cid, None)

    # ------------------------------------------------------------------- running
    async def start(self) -> None:
        if self._task is None:
            if self.journal is not None:
                try:  # exchanges that instances which died left unwritten
                    await self.journal.start(self.add)
                except (RedisError, OSError) as exc:
                    log.error("history journal unavailable, running without: %s", exc)
                    await self.journal.close()
                    self.journal = None
            self._task = asyncio.create_task(self._run(), name="history-writer")

    async def stop(self) -> None:
        """Write what is queued (up to ``stop_timeout`` s), then stop."""
        if self._task is None:
            return
        try:
            async with asyncio.timeout(self.stop_timeout):
                await self.flush()
        except TimeoutError:
            log.error("history: %d messages not saved at shutdown", len(self._queue))
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass
        self._task = None
        if self.journal is not None:
            await self._ack()
            await self.journal.stop(written=not self._queue)

    async def flush(self) -> None:
        """Return once every row queued before this call is written (or dropped)."""
        target = self._queued
        if self._written >= target:
            return
        if self._task is None:  # not started: write inline
            while self._queue:
                await self._write_some()
            return
        async with self._progress:
            await self._progress.wait_for(lambda: self._written >= target)

    async def _run(self) -> None:
        delay = 0.0
        while True:
            if not self._queue:
                self._wakeup.clear()
                await self._wakeup.wait()
            if delay:
                await asyncio.sleep(delay)
            try:
                await self._write_some()
                delay = 0.0
            except Exception as exc:  # the database is away: keep the rows queued
                self.failures += 1
                delay = min(5.0, max(0.2, delay * 2))
                log.error(
                    "history: writing %d queued messages failed (%s: %s); "
                    "retrying in %.1f s",
                    len(self._queue),
                    type(exc).__name__,
                    exc,
                    delay,
                )

    async def _write_some(self) -> None:
        n = min(self.max_batch, len(self._queue))
        # end on an exchange's last row (a replayed journal entry then finds
        # none of its rows written)
        while n < len(self._queue) and id(self._queue[n - 1]) not in self._ends:
            n += 1
        batch = [self._queue[i] for i in range(n)]
        if not batch:
            return
        now = datetime.now(UTC)
        tick = time.monotonic()
        conversations = {str(row.conversation_id) for row in batch}
        bump = self._bumps.due(conversations, tick)
        try:
            await self._insert(batch, bump, now)
            self.batches += 1
        except Exception as exc:
            if is_transient(exc):
                raise
            # a row the database rejects for itself must not hold the queue
            await self._insert_each(batch, now)
        else:
            self._done(batch)
        self._bumps.done(bump, tick)
        await self._ack()
        async with self._progress:
            self._progress.notify_all()
        if self.on_flushed is not None:
            try:
                await self.on_flushed(conversations)
            except Exception:  # the rows are saved; a missed notice heals by TTL
                log.exception("history: announcing written conversations failed")

    def _done(self, rows: list[Message]) -> None:
        """``rows`` are written (or rejected for good): they leave the queue (a
        failure before this keeps them queued for a retry)."""
        if len(rows) <= len(self._queue) and all(
            self._queue[i] is row for i, row in enumerate(rows)
        ):
            for _ in rows:
                self._forget(self._queue.popleft())
            self._written += len(rows)
            return
        # some were dropped meanwhile (queue full): those are counted already
        done = {id(row) for row in rows}
        kept: deque[Message] = deque()
        for row in self._queue:
            if id(row) in done:
                self._forget(row)
                self._written += 1
            else:
                kept.append(row)
        self._queue = kept

    async def _ack(self) -> None:
        """Take written (or dropped) exchanges out of the journal."""
        if self.journal is None or not self._acks:
            return
        refs, self._acks = self._acks, []
        try:
            await self.journal.ack(refs)
        except (RedisError, OSError) as exc:
            # left in the journal: an adoption after a crash would write them again
            log.warning("history journal: %d entries not removed: %s", len(refs), exc)

    @staticmethod
    async def _insert(batch: list[Message], bump: list[str], now: datetime) -> None:
        async with in_transaction():
            await Message.bulk_create(batch)
            if bump:
                await Conversation.filter(id__in=bump).update(updated_at=now)

    async def _insert_each(self, batch: list[Message], now: datetime) -> None:
        """Write ``batch`` row by row; a row that fails for itself is repaired
        once, then dropped. A transient error (the database went away) stops
        here and leaves the rest queued."""
        database_ok = False
        for row in batch:
            try:
                await self._insert([row], [str(row.conversation_id)], now)
            except Exception as exc:
                if is_transient(exc):
                    raise
                # the row, or the database? a row is blamed only when the
                # database answers a trivial query
                if not database_ok:
                    await connections.get("default").execute_query("SELECT 1")
                    database_ok = True
                await self._repair_or_drop(row, exc, now)
            self._done([row])

    async def _repair_or_drop(
        self, row: Message, first: Exception, now: datetime
    ) -> None:
        if repair_row(row):
            try:
                await self._insert([row], [str(row.conversation_id)], now)
            except Exception as exc:
                if is_transient(exc):
                    raise
                first = exc
            else:
                REPAIRED.inc()
                log.warning(
                    "history: a message of conversation %s was saved with its "
                    "invalid characters replaced",
                    row.conversation_id,
                )
                return
        DROPPED.labels("rejected").inc()
        log.error(
            "history: a %s message of conversation %s rejected (%s: %.200s)",
            row.role,
            row.conversation_id,
            type(first).__name__,
            first,
        )
