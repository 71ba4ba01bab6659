"""History's write-behind writer and its cache, on SQLite and PostgreSQL (and Redis
for the notices between instances): order, batching, read-your-writes, a database
that fails for a while, rows the database rejects, a full queue, shutdown."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from bot.state.redis import RedisState


async def new_conversation(title: str = "t") -> str:
    from bot.store.models import Conversation

    conv = await Conversation.create(
        id=str(uuid.uuid4()), owner="qq:1", session_key=f"qq:{title}", platform="qq"
    )
    return str(conv.id)


def exchange(cid: str, i: int) -> list[Any]:
    from plugins.history.store import exchange_rows

    return exchange_rows(cid, user_text=f"q{i}", platform_msg_id=str(i), answer=f"a{i}")


async def stored(cid: str) -> list[str]:
    from bot.store.models import Message

    return [
        str(c)
        for c in await Message.filter(conversation_id=cid)
        .order_by("id")
        .values_list("content", flat=True)
    ]


async def test_batches_keep_order_and_flush_reads_your_writes(
    database: str, plugins_loaded: None
) -> None:
    from plugins.history.writer import HistoryWriter

    convs = [await new_conversation(str(i)) for i in range(5)]
    writer = HistoryWriter()
    await writer.start()
    try:
        for i in range(200):
            writer.add(exchange(convs[i % 5], i))
        assert writer.pending(convs[0])
        await writer.flush()
        assert not writer.pending(convs[0])
        for n, cid in enumerate(convs):
            want = [x for i in range(n, 200, 5) for x in (f"q{i}", f"a{i}")]
            assert await stored(cid) == want
        # 400 rows in far fewer transactions than messages (group commit)
        assert 1 <= writer.batches < 50
    finally:
        await writer.stop()


async def test_a_database_failure_is_retried_and_nothing_is_lost(
    database: str, plugins_loaded: None
) -> None:
    from tortoise import connections

    from plugins.history.writer import HistoryWriter

    cid = await new_conversation()
    conn = connections.get("default")
    writer = HistoryWriter()
    await writer.start()
    try:
        await conn.execute_script("ALTER TABLE messages RENAME TO messages_away")
        writer.add(exchange(cid, 1))
        for _ in range(100):  # the first attempt fails
            if writer.failures:
                break
            await asyncio.sleep(0.02)
        assert writer.failures >= 1
        writer.add(exchange(cid, 2))
        await conn.execute_script("ALTER TABLE messages_away RENAME TO messages")
        async with asyncio.timeout(10):
            await writer.flush()
        assert await stored(cid) == ["q1", "a1", "q2", "a2"]  # once each, in order
    finally:
        await writer.stop()


async def test_rows_the_database_rejects_do_not_hold_the_queue(
    database: str, plugins_loaded: None
) -> None:
    from bot.store.models import Conversation
    from plugins.history.writer import DROPPED, HistoryWriter

    kept, gone = await new_conversation("kept"), await new_conversation("gone")
    writer = HistoryWriter()  # not started: flush writes inline
    writer.add(exchange(kept, 1))
    writer.add(exchange(gone, 2))
    writer.add(exchange(kept, 3))
    await Conversation.filter(id=gone).delete()  # deleted while its rows wait
    before = DROPPED.labels("rejected")._value.get()
    await writer.flush()
    assert await stored(kept) == ["q1", "a1", "q3", "a3"]
    assert DROPPED.labels("rejected")._value.get() - before == 2
    assert not writer.pending(gone)


async def test_a_full_queue_drops_the_oldest_and_flush_still_returns(
    database: str, plugins_loaded: None
) -> None:
    from plugins.history.writer import DROPPED, HistoryWriter

    cid = await new_conversation()
    writer = HistoryWriter(max_pending=6)
    before = DROPPED.labels("queue_full")._value.get()
    for i in range(5):
        writer.add(exchange(cid, i))
    assert DROPPED.labels("queue_full")._value.get() - before == 4
    async with asyncio.timeout(5):
        await writer.flush()
    assert await stored(cid) == ["q2", "a2", "q3", "a3", "q4", "a4"]


async def test_stop_writes_what_is_queued(database: str, plugins_loaded: None) -> None:
    from plugins.history.writer import HistoryWriter

    cid = await new_conversation()
    writer = HistoryWriter()
    await writer.start()
    for i in range(50):
        writer.add(exchange(cid, i))
    await writer.stop()
    assert len(await stored(cid)) == 100


@pytest.mark.parametrize("database", ["postgres"], indirect=True)
async def test_instances_drop_their_copy_when_another_writes(
    database: str,
    plugins_loaded: None,
    redis_state: Callable[[str], RedisState],
) -> None:
    """Two instances over one Redis: A's writes make B reload, never A itself."""
    from plugins.history.cache import SessionCache
    from plugins.history.writer import HistoryWriter

    prefix = f"fc-test-{uuid.uuid4().hex[:8]}:"
    state_a, state_b = redis_state(prefix), redis_state(prefix)
    a, b = SessionCache(ttl=60), SessionCache(ttl=60)
    await a.start(state_a, origin="a")
    await b.start(state_b, origin="b")

    async def announce(conversations: set[str]) -> None:
        await a.announce(state_a, conversations)

    writer = HistoryWriter(on_flushed=announce)
    try:
        cid = await new_conversation()
        for cache in (a, b):
            cache.put_recent(cid, [("user", "q0"), ("assistant", "a0")], 4)
        rows = exchange(cid, 1)
        a.append_recent(cid, [(r.role, r.content) for r in rows])
        writer.add(rows)
        await writer.flush()
        for _ in range(100):
            if b.recent(cid, 4) is None:
                break
            await asyncio.sleep(0.02)
        assert b.recent(cid, 4) is None  # B reloads from the database next time
        assert a.recent(cid, 4) == [
            ("user", "q0"),
            ("assistant", "a0"),
            ("user", "q1"),
            ("assistant", "a1"),
        ]
    finally:
        await a.stop()
        await b.stop()


async def test_a_save_during_a_load_keeps_the_load_out_of_the_cache(
    database: str, plugins_loaded: None
) -> None:
    """Rows loaded while an exchange of the conversation was saved may miss it:
    they serve this message but are not cached (the next one loads again)."""
    from plugins.history.cache import SessionCache
    from plugins.history.middleware import _recent_rows

    cid = await new_conversation()
    cache = SessionCache(ttl=60)
    load = asyncio.create_task(_recent_rows(cid, 4, cache, None))
    await asyncio.sleep(0)  # the load is waiting for the database now
    cache.append_recent(cid, [("user", "q"), ("assistant", "a")])  # a save
    assert await load == []
    assert cache.recent(cid, 4) is None
    # without a save meanwhile the load is cached
    assert await _recent_rows(cid, 4, cache, None) == []
    assert cache.recent(cid, 4) == []


async def test_a_row_the_driver_cannot_encode_does_not_block_the_others(
    database: str, plugins_loaded: None
) -> None:
    """A lone surrogate (straight into the writer: the edge sanitises text, the
    writer must not rely on it) is repaired and saved; the rows after it are saved,
    and in order; nothing is retried for ever."""
    from plugins.history.store import exchange_rows
    from plugins.history.writer import REPAIRED, HistoryWriter

    cid = await new_conversation()
    writer = HistoryWriter()
    await writer.start()
    before = REPAIRED._value.get()
    try:
        writer.add(exchange(cid, 1))
        writer.add(
            exchange_rows(
                cid, user_text="x \ud83d y", platform_msg_id="2", answer="a\x002"
            )
        )
        for i in range(3, 6):
            writer.add(exchange(cid, i))
        async with asyncio.timeout(10):
            await writer.flush()
        # PostgreSQL refuses NUL too (repaired there); SQLite stores it
        nul = "a\ufffd2" if database.startswith("postgres") else "a\x002"
        assert await stored(cid) == [
            "q1",
            "a1",
            "x \ufffd y",
            nul,
            *[x for i in range(3, 6) for x in (f"q{i}", f"a{i}")],
        ]
        assert REPAIRED._value.get() - before >= 1
        assert writer.failures == 0  # never held as a failing batch
    finally:
        await writer.stop()


async def test_a_bad_row_at_the_head_does_not_stop_shutdown_from_writing(
    database: str, plugins_loaded: None
) -> None:
    from plugins.history.store import exchange_rows
    from plugins.history.writer import HistoryWriter

    cid = await new_conversation()
    writer = HistoryWriter(stop_timeout=10)
    writer.add(exchange_rows(cid, user_text="\udfff", platform_msg_id=None, answer="a"))
    for i in range(20):
        writer.add(exchange(cid, i))
    await writer.start()
    await writer.stop()
    assert len(await stored(cid)) == 42


async def test_a_journal_whose_redis_is_away_costs_durability_not_messages(
    database: str, plugins_loaded: None
) -> None:
    from plugins.history.journal import RedisJournal
    from plugins.history.writer import HistoryWriter
    from tests.conftest import free_port

    cid = await new_conversation()
    dead = RedisJournal(f"redis://127.0.0.1:{free_port()}/0", "w1", "fc-test-j:")
    writer = HistoryWriter(journal=dead)
    await writer.start()  # logs and runs without a journal
    try:
        assert writer.journal is None
        for i in range(3):
            await writer.add_durable(exchange(cid, i))
        await writer.flush()
        assert len(await stored(cid)) == 6
    finally:
        await writer.stop()


async def test_a_conversation_titled_with_a_lone_surrogate_is_created(
    database: str, plugins_loaded: None
) -> None:
    """The title comes from the first message: text the database cannot store
    must not refuse the conversation (nor leave the web socket busy)."""
    from plugins.history.store import conversation_by_id, conversation_for_session

    web = await conversation_by_id(
        "c-surrogate",
        owner="web:a",
        session_key="web:a",
        platform="web",
        text="x \ud83d",
    )
    assert web.title == "x \ufffd"
    qq = await conversation_for_session(
        "qq:group:s", owner="qq:1", platform="qq", text="\udfff\x00 hi"
    )
    assert qq.title == "\ufffd\ufffd hi"
