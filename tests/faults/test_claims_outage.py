"""D3 at the state level: while Redis is away, claims go to the database (never to
process memory), so two instances still claim each key once, and the claims of the
outage still count after Redis comes back (empty)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from bot import store
from bot.state.redis import RedisState
from bot.store.claims import DatabaseClaims
from bot.store.models import Claim
from tests.faults.conftest import RedisServer


@pytest.fixture
async def database(pg_url: str) -> AsyncIterator[str]:
    await store.init_store(pg_url)
    yield pg_url
    await store.close_store()


@pytest.fixture
async def instances(
    database: str, redis_server: RedisServer
) -> AsyncIterator[tuple[RedisState, RedisState]]:
    """Two instances' state: the same Redis, the same database."""
    pair = (
        RedisState(redis_server.url, prefix="d3:", durable=DatabaseClaims()),
        RedisState(redis_server.url, prefix="d3:", durable=DatabaseClaims()),
    )
    yield pair
    for state in pair:
        await state.close()


async def _claim_everywhere(
    states: tuple[RedisState, RedisState], keys: list[str]
) -> dict[str, int]:
    """Each key claimed by both instances at once; how many won each key."""
    results = await asyncio.gather(
        *(state.claim(key, 600) for key in keys for state in states)
    )
    return {key: sum(results[2 * i : 2 * i + 2]) for i, key in enumerate(keys)}


async def _until_ping(state: RedisState, expected: bool) -> None:
    for _ in range(200):
        if await state.ping() is expected:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"ping never became {expected}")


async def test_two_instances_claim_once_through_an_outage(
    instances: tuple[RedisState, RedisState], redis_server: RedisServer
) -> None:
    before = [f"dedup:qq:1:{i}" for i in range(20)]
    assert set((await _claim_everywhere(instances, before)).values()) == {1}

    redis_server.kill()
    during = [f"dedup:qq:1:{i}" for i in range(100, 160)]
    assert set((await _claim_everywhere(instances, during)).values()) == {1}
    assert all(state.degraded for state in instances)
    assert await Claim.filter(key__in=during).count() == len(during)

    redis_server.start()  # back, and empty
    for state in instances:
        await _until_ping(state, True)
    # the platform sends the outage's messages again: still claimed
    assert set((await _claim_everywhere(instances, during)).values()) == {0}
    after = [f"dedup:qq:1:{i}" for i in range(200, 230)]
    assert set((await _claim_everywhere(instances, after)).values()) == {1}


async def test_an_instance_that_saw_no_outage_learns_of_it_from_redis(
    database: str, redis_server: RedisServer
) -> None:
    """The instance that came through the outage leaves a marker; another one
    (started after it) checks the database too while the marker lasts."""
    first = RedisState(redis_server.url, prefix="d3m:", durable=DatabaseClaims())
    try:
        assert await first.claim("warm", 60)
        redis_server.kill()
        assert await first.claim("during", 600)
        redis_server.start()
        await _until_ping(first, True)
        second = RedisState(redis_server.url, prefix="d3m:", durable=DatabaseClaims())
        try:
            assert not await second.claim("during", 600)
            assert await second.claim("fresh", 600)
            assert not await first.claim("fresh", 600)
        finally:
            await second.close()
    finally:
        await first.close()


async def test_leases_in_the_database_renew_and_release(
    instances: tuple[RedisState, RedisState], redis_server: RedisServer
) -> None:
    a, b = instances
    assert await a.claim("warm", 60)
    redis_server.kill()
    assert await a.lease("lease", "owner-a", 0.5)
    assert not await b.lease("lease", "owner-b", 0.5)
    assert await a.renew("lease", "owner-a", 0.5)
    assert not await b.renew("lease", "owner-b", 0.5)
    await b.release("lease", "owner-b")  # not b's: nothing happens
    assert not await b.lease("lease", "owner-b", 0.5)
    await a.release("lease", "owner-a")
    assert await b.lease("lease", "owner-b", 0.3)
    await asyncio.sleep(0.5)  # b's lease lapses: a takes it over
    assert await a.lease("lease", "owner-a", 30)
    assert not await b.renew("lease", "owner-b", 30)


async def test_claims_fail_closed_when_the_database_is_away_too(
    redis_server: RedisServer,
) -> None:
    """No store can decide: an error, never a claim in process memory."""
    from bot.exceptions import StateError

    state = RedisState(redis_server.url, prefix="d3x:", durable=DatabaseClaims())
    try:
        redis_server.kill()
        with pytest.raises(StateError):
            await state.claim("nowhere", 60)  # no database connected at all
    finally:
        await state.close()


async def test_a_claim_tries_redis_when_the_database_fails(
    redis_server: RedisServer,
) -> None:
    """Just after Redis restarted, before the probe noticed: a database that fails
    too must not cost the message, Redis decides."""
    state = RedisState(redis_server.url, prefix="d3y:", durable=DatabaseClaims())
    try:
        state.degraded = True  # what a blip during the restart leaves behind
        assert await state.claim("blip", 60) is True  # no database connected
        assert await state.claim("blip", 60) is False
    finally:
        await state.close()
