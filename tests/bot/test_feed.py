"""FeedWatcher: every instance's change reaches the callback; bursts coalesce;
a failing callback does not stop the watching."""

from __future__ import annotations

import asyncio

from bot.state import FeedWatcher, MemoryState


async def test_changes_reach_the_callback_and_failures_do_not_stop_it() -> None:
    state = MemoryState()
    seen: list[dict] = []

    async def on_change(message: dict) -> None:
        seen.append(message)
        if message.get("boom"):
            raise RuntimeError("boom")

    feed = FeedWatcher("words", on_change)
    await feed.start(state)
    await feed.start(state)  # idempotent
    await state.publish("words", {"boom": True})
    await state.publish("words", {"n": 2})
    await asyncio.sleep(0.05)
    assert seen == [{"boom": True}, {"n": 2}]
    await feed.stop()
    assert not feed.running
    await state.publish("words", {"n": 3})
    await asyncio.sleep(0.05)
    assert len(seen) == 2


async def test_a_burst_is_handled_once_with_the_newest_message() -> None:
    state = MemoryState()
    seen: list[dict] = []
    feed = FeedWatcher("words", seen.append, coalesce=True)
    await feed.start(state)
    for n in range(5):
        await state.publish("words", {"n": n})
    await asyncio.sleep(0.05)
    assert seen == [{"n": 4}]
    await feed.stop()


async def test_concurrent_first_starts_subscribe_once(
    redis_url: str, redis_prefix: str
) -> None:
    """Many messages starting a plugin's watcher at once open one subscription
    (each used to hold a Redis connection and a pump task for good)."""
    from bot.state.redis import RedisState

    state = RedisState(redis_url, prefix=redis_prefix)
    watcher = FeedWatcher("changes", lambda _message: None)
    try:
        await asyncio.gather(*(watcher.start(state) for _ in range(20)))
        counts = await state._redis.pubsub_numsub(redis_prefix + "changes")
        assert counts == [(redis_prefix + "changes", 1)]
    finally:
        await watcher.stop()
        await state.close()
