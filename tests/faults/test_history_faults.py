"""History under faults, against real PostgreSQL.

D8: concurrent first messages of new groups create exactly one conversation per
session key, held by the database (not by luck of timing). D7: a crash while the
database is slow loses no queued exchange when Redis is configured."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from collections.abc import AsyncIterator

import asyncpg
import pytest

from .llm_helpers import ROOT, load_plugins, orm

pytestmark = pytest.mark.usefixtures("nonebug_init")


@pytest.fixture
async def store(pg_url: str) -> AsyncIterator[str]:
    async with orm(pg_url):
        yield pg_url


async def test_concurrent_first_messages_make_one_conversation(store: str) -> None:
    load_plugins("history")
    from bot.store.models import Conversation
    from plugins.history.store import archive_session, conversation_for_session

    groups = [f"qq:group:d8-{i}" for i in range(20)]

    async def first_message(key: str, n: int) -> str:
        conv = await conversation_for_session(
            key, owner=f"qq:{n}", platform="qq", text=f"hello {n}"
        )
        return str(conv.id)

    ids = await asyncio.gather(
        *(first_message(key, n) for key in groups for n in range(8))
    )
    by_group = [set(ids[i * 8 : (i + 1) * 8]) for i in range(len(groups))]
    assert all(len(found) == 1 for found in by_group), by_group
    for key, found in zip(groups, by_group, strict=True):
        rows = await Conversation.filter(session_key=key).values_list("id", flat=True)
        assert set(rows) == found  # the losers left nothing behind

    # /reset, then a burst again: one new conversation, the old one archived
    await archive_session(groups[0])
    again = set(await asyncio.gather(*(first_message(groups[0], n) for n in range(8))))
    assert len(again) == 1
    assert again != by_group[0]
    assert await Conversation.filter(session_key=groups[0], archived=False).count() == 1


async def test_a_crash_while_the_database_is_locked_loses_no_exchange(
    store: str, redis_url: str, redis_prefix: str
) -> None:
    """D7: a bot queues exchanges while the messages table is locked (the database
    is slow), then is killed (SIGKILL). With Redis the exchanges were journaled:
    another instance adopts them once the dead one's liveness lapses and writes
    each exactly once."""
    load_plugins("history")
    from bot.store.models import Conversation, Message
    from plugins.history.journal import RedisJournal
    from plugins.history.writer import HistoryWriter

    conv = await Conversation.create(
        id="d7-conversation", owner="qq:1", session_key="qq:d7", platform="qq"
    )
    n = 200
    lock = await asyncpg.connect(store)
    tx = lock.transaction()
    await tx.start()
    await lock.execute("LOCK TABLE messages IN ACCESS EXCLUSIVE MODE")
    child = subprocess.Popen(  # noqa: ASYNC220 - returns at once
        [
            sys.executable,
            "-m",
            "tests.faults.llm_helpers",
            "journal",
            store,
            redis_url,
            redis_prefix,
            conv.id,
            str(n),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
    )
    try:
        assert child.stdout is not None
        out = child.stdout

        def queued() -> bool:  # NoneBot logs to stdout too
            return any(line.strip() == b"queued" for line in iter(out.readline, b""))

        assert await asyncio.wait_for(asyncio.to_thread(queued), 60)
        await asyncio.sleep(0.5)  # its writer is blocked on the lock now
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)
        await tx.rollback()
        await lock.close()
    assert await Message.filter(conversation_id=conv.id).count() == 0

    writer = HistoryWriter(journal=RedisJournal(redis_url, "survivor", redis_prefix))
    await writer.start()
    try:
        assert writer.journal is not None
        for _ in range(60):  # until the dead one's liveness lapses
            if writer.pending(conv.id):
                break
            await asyncio.sleep(0.5)
        async with asyncio.timeout(30):
            await writer.flush()
        rows = (
            await Message.filter(conversation_id=conv.id)
            .order_by("id")
            .values_list("content", flat=True)
        )
        assert rows == [x for i in range(n) for x in (f"q{i}", f"a{i}")]
    finally:
        await writer.stop()
