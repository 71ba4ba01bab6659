"""One suite, two stores: every StateStore behaviour on memory:// and on real Redis."""

from __future__ import annotations

import asyncio

import pytest

from bot.exceptions import StateError
from bot.state import MemoryState, StateStore, open_state
from bot.state.redis import RedisState


@pytest.fixture(params=["memory", "redis"])
async def state(request, redis_url: str, redis_prefix: str):
    store: StateStore = (
        MemoryState()
        if request.param == "memory"
        else RedisState(redis_url, prefix=redis_prefix)
    )
    yield store
    await store.close()


async def test_claim_is_once(state: StateStore) -> None:
    results = await asyncio.gather(*(state.claim("msg:1", 30) for _ in range(20)))
    assert results.count(True) == 1
    assert await state.claim("msg:2", 30) is True


async def test_claim_expires(state: StateStore) -> None:
    assert await state.claim("short", 0.2)
    assert not await state.claim("short", 0.2)
    await asyncio.sleep(0.35)
    assert await state.claim("short", 0.2)


async def test_get_set_delete_ttl(state: StateStore) -> None:
    assert await state.get("k") is None
    await state.set("k", "v")
    assert await state.get("k") == "v"
    await state.set("t", "x", ttl=0.2)
    await asyncio.sleep(0.35)
    assert await state.get("t") is None
    await state.delete("k")
    assert await state.get("k") is None


async def test_incr(state: StateStore) -> None:
    assert await state.incr("c") == 1
    assert await state.incr("c", 5) == 6
    assert await state.incr("c", -2) == 4


async def test_hit_sliding_window(state: StateStore) -> None:
    allowed = [(await state.hit("rl", 3, 1.0)).allowed for _ in range(5)]
    assert allowed == [True, True, True, False, False]
    refused = await state.hit("rl", 3, 1.0)
    assert 0 < refused.retry_after <= 1.0
    await asyncio.sleep(1.05)
    assert (await state.hit("rl", 3, 1.0)).allowed


async def test_hit_is_atomic_under_concurrency(state: StateStore) -> None:
    results = await asyncio.gather(*(state.hit("burst", 10, 60) for _ in range(50)))
    assert sum(r.allowed for r in results) == 10


async def test_reserve_never_exceeds_limit(state: StateStore) -> None:
    results = await asyncio.gather(*(state.reserve("budget", 7, 50) for _ in range(30)))
    granted = [r for r in results if r.ok]
    assert len(granted) == 7  # 7 * 7 = 49 <= 50 < 56
    assert int(await state.get("budget") or 0) == 49


async def test_publish_subscribe(state: StateStore) -> None:
    sub = await state.subscribe("changes")
    other = await state.subscribe("elsewhere")
    await state.publish("changes", {"kind": "words", "n": 1})
    msg = await asyncio.wait_for(anext(sub), 3)
    assert msg == {"kind": "words", "n": 1}
    assert other.queue.empty()
    await sub.close()
    await other.close()


async def test_ping(state: StateStore) -> None:
    assert await state.ping()


async def test_redis_down_falls_back_and_budgets_fail_closed(redis_prefix: str) -> None:
    dead = RedisState("redis://127.0.0.1:1/0", prefix=redis_prefix)
    try:
        assert await dead.claim("x", 10) is True  # in-process fallback answers
        assert await dead.claim("x", 10) is False
        assert dead.degraded
        with pytest.raises(StateError):
            await dead.reserve("budget", 1, 10)
        assert not await dead.ping()
    finally:
        await dead.close()


def test_open_state_rejects_unknown_scheme() -> None:
    from bot.exceptions import ConfigError

    with pytest.raises(ConfigError, match=r"state\.url"):
        open_state("mongodb://x")
    assert isinstance(open_state("memory://"), MemoryState)


async def test_memory_state_forgets_what_expired_and_stays_out_of_the_gc() -> None:
    """An hour of dedup claims must neither stay in memory after they expire nor
    be walked by every full garbage collection (the loop pauses for that)."""
    import gc

    state = MemoryState()
    for i in range(2000):
        assert await state.claim(f"dedup:{i}", 0.3)
        await state.set(f"token:{i}", "x" * 8, ttl=0.3)
        await state.incr(f"count:{i}", 3, ttl=0.3)
        await state.hit(f"rl:{i}", 5, 0.3)
    await state.set("kept", "forever")
    await state.hit("rl:busy", 1, 60)
    # (the windows, one per user active in its window, are arrays: tracked, but
    # walked as one object each, not per request time)
    tables = (state._values, state._expires, state._window_ends)
    gc.collect()
    assert not any(gc.is_tracked(table) for table in tables)
    assert len(state._values) == 6001

    await asyncio.sleep(1.5)  # past the deadlines and the next sweep slot
    assert await state.claim("dedup:new", 30)  # any operation sweeps what is due
    assert set(state._values) == {"kept", "dedup:new"}
    assert set(state._expires) == {"dedup:new"}
    assert set(state._windows) == set(state._window_ends) == {"rl:busy"}
    assert await state.get("kept") == "forever"
    assert not (await state.hit("rl:busy", 1, 60)).allowed
    # what expired is gone for readers too, and may be claimed again
    assert await state.get("token:1") is None
    assert await state.claim("dedup:1", 30)


async def test_memory_state_deadline_moved_later_is_kept() -> None:
    state = MemoryState()
    await state.set("k", "a", ttl=0.2)
    await state.set("k", "b", ttl=30)  # the earlier filing is now stale
    await asyncio.sleep(1.3)
    await state.set("other", "x")
    assert await state.get("k") == "b"
    await state.set("k", "c")  # no ttl: kept until deleted
    assert "k" not in state._expires
    await state.delete("k")
    assert await state.get("k") is None


async def test_memory_state_files_a_busy_key_once() -> None:
    """A key hit every moment of a long window is filed for expiry once, not once
    per second of the window (a day-long window would hold 86,400 filings)."""
    state = MemoryState()
    for _ in range(12):
        assert (await state.hit("rl:day", 1000, 86400)).allowed
        await state.set("session", "x", ttl=3600)
        await asyncio.sleep(0.2)
    filings = [slot for slot, keys in state._due.items() if "rl:day" in keys]
    assert len(filings) == 1
    assert sum("session" in keys for keys in state._due.values()) == 1
    assert (await state.hit("rl:day", 1000, 86400)).remaining == 1000 - 13


async def test_lease_is_once_and_only_its_owner_renews_or_releases(
    state: StateStore,
) -> None:
    results = await asyncio.gather(
        *(state.lease("lease:1", f"owner{i}", 30) for i in range(20))
    )
    assert results.count(True) == 1
    owner = f"owner{results.index(True)}"
    assert not await state.renew("lease:1", "someone-else", 30)
    await state.release("lease:1", "someone-else")
    assert not await state.lease("lease:1", "late", 30)  # still held
    assert await state.renew("lease:1", owner, 30)
    await state.release("lease:1", owner)
    assert await state.lease("lease:1", "late", 30)  # given back: free


async def test_lease_expires_unless_renewed(state: StateStore) -> None:
    assert await state.lease("lease:2", "a", 0.3)
    for _ in range(3):
        await asyncio.sleep(0.15)
        assert await state.renew("lease:2", "a", 0.3)
    assert not await state.lease("lease:2", "b", 0.3)
    await asyncio.sleep(0.45)
    assert await state.lease("lease:2", "b", 0.3)  # lapsed: another takes it
    assert not await state.renew("lease:2", "a", 0.3)  # and the first lost it
