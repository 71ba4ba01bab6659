"""A durable journal of the history rows the writer still holds (Redis streams).

The writer writes behind: an exchange the user has seen waits in memory until its
batch is written. A crash (SIGKILL, OOM, power) while the database is slow would
lose it. With Redis configured, each queued exchange is first appended to this
instance's stream (``XADD``), and deleted from it once written (``XDEL``); what is
left in a stream is what never reached the database.

Every instance keeps its own stream and renews a liveness key while it runs. At
start, and every ``SWEEP`` seconds, an instance looks for streams whose owner is no
longer alive (crashed, or stopped before it could write), takes one over with a
claim and hands its exchanges to its own writer, which writes them in order. An
exchange is written at least once: only a crash in the instant between a batch's
commit and its ``XDEL`` can write that batch's exchanges a second time.

Without Redis (the embedded default) there is no journal: a crash loses at most
what the writer held, which is bounded by its batching (normally under a second of
messages) and, while the database is down, by ``max_pending`` rows; a clean
shutdown writes it (up to ``stop_timeout``).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from bot.store.models import Message

log = logging.getLogger(__name__)

#: seconds a stopped instance's liveness key outlives its last renewal
ALIVE_TTL = 6
#: seconds between two renewals, and two looks for streams whose owner died
SWEEP = 2.0
#: seconds an adoption claim lasts (renewed while the adopted rows wait)
CLAIM_TTL = 60
#: the longest stream kept (the database down for very long): the oldest go
MAX_LEN = 200_000

Ref = tuple[str, str]  # (stream key, entry id)
Adopt = Callable[[list[Message], Ref], None]


def _dump(rows: list[Message]) -> str:
    return json.dumps(
        [
            {
                "conversation_id": str(r.conversation_id),
                "role": r.role,
                "content": r.content,
                "reasoning": r.reasoning,
                "tokens": r.tokens,
                "demo": r.demo,
                "platform_msg_id": r.platform_msg_id,
                "created_at": r.created_at.isoformat() if r.created_at else None,
            }
            for r in rows
        ],
        # lone surrogates must survive the trip (the writer repairs them)
        ensure_ascii=True,
    )


def _load(data: str) -> list[Message]:
    rows: list[dict[str, Any]] = json.loads(data)
    return [
        Message(
            conversation_id=r["conversation_id"],
            role=r["role"],
            content=r["content"],
            reasoning=r["reasoning"],
            tokens=r["tokens"],
            demo=r["demo"],
            platform_msg_id=r["platform_msg_id"],
            created_at=datetime.fromisoformat(r["created_at"])
            if r["created_at"]
            else None,
        )
        for r in rows
    ]


class RedisJournal:
    def __init__(self, url: str, instance_id: str, prefix: str = "freechat:") -> None:
        self._redis = aioredis.Redis.from_url(
            url, socket_timeout=2.0, socket_connect_timeout=2.0, decode_responses=True
        )
        self.instance_id = instance_id
        self._base = f"{prefix}history:journal"
        self.stream = f"{self._base}:{instance_id}"
        self._task: asyncio.Task[None] | None = None
        self._adopt: Adopt | None = None
        #: instances whose streams this one adopted and still writes
        self._adopted: set[str] = set()

    def _alive(self, instance_id: str) -> str:
        return f"{self._base}:alive:{instance_id}"

    async def append(self, rows: list[Message]) -> Ref:
        """Journal one exchange; returns its reference for :meth:`ack`."""
        entry = await self._redis.xadd(
            self.stream, {"rows": _dump(rows)}, maxlen=MAX_LEN, approximate=True
        )
        return self.stream, str(entry)

    async def ack(self, refs: list[Ref]) -> None:
        """These exchanges are in the database (or dropped for good)."""
        by_stream: dict[str, list[str]] = {}
        for stream, entry in refs:
            by_stream.setdefault(stream, []).append(entry)
        for stream, entries in by_stream.items():
            await self._redis.xdel(stream, *entries)

    async def start(self, adopt: Adopt) -> None:
        """Mark this instance alive, adopt what dead ones left, keep doing both."""
        self._adopt = adopt
        await self._redis.sadd(f"{self._base}:streams", self.instance_id)
        await self._redis.set(self._alive(self.instance_id), "1", ex=ALIVE_TTL)
        await self.sweep()
        self._task = asyncio.create_task(self._run(), name="history-journal")

    async def stop(self, *, written: bool) -> None:
        """Stop renewing; with everything ``written`` this instance's stream goes
        (else it stays for another instance, or the next start, to adopt)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        try:
            if written and not await self._redis.xlen(self.stream):
                await self._redis.delete(self.stream)
                await self._redis.srem(f"{self._base}:streams", self.instance_id)
            await self._redis.delete(self._alive(self.instance_id))
        except RedisError as exc:
            log.warning("history journal: stopping cleanly failed: %s", exc)
        await self.close()

    async def close(self) -> None:
        await self._redis.aclose()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(SWEEP)
            try:
                await self._redis.set(self._alive(self.instance_id), "1", ex=ALIVE_TTL)
                await self.sweep()
            except RedisError as exc:
                log.warning("history journal: Redis failed (%s)", exc)

    async def sweep(self) -> int:
        """Adopt the exchanges of instances that are no longer alive."""
        adopted = 0
        streams = f"{self._base}:streams"
        for other in await self._redis.smembers(streams):
            claim = f"{self._base}:claim:{other}"
            if other in self._adopted:
                if await self._redis.xlen(f"{self._base}:{other}"):
                    await self._redis.set(claim, self.instance_id, ex=CLAIM_TTL)
                else:  # all written: the stream is done with
                    await self._redis.srem(streams, other)
                    await self._redis.delete(f"{self._base}:{other}", claim)
                    self._adopted.discard(other)
                continue
            if other == self.instance_id or await self._redis.exists(
                self._alive(other)
            ):
                continue
            if not await self._redis.set(
                claim, self.instance_id, nx=True, ex=CLAIM_TTL
            ):
                continue  # another instance is adopting it
            self._adopted.add(other)
            adopted += await self._adopt_stream(f"{self._base}:{other}")
        return adopted

    async def _adopt_stream(self, stream: str) -> int:
        assert self._adopt is not None
        entries = await self._redis.xrange(stream)
        for entry, fields in entries:
            self._adopt(_load(fields["rows"]), (stream, str(entry)))
        if entries:
            log.warning(
                "history journal: %d exchanges not written by a stopped instance "
                "are written now",
                len(entries),
            )
        return len(entries)
