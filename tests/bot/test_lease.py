"""bot.state.lease: a claim held while work runs, final when it succeeds, released
when it fails or is cancelled, lapsing when its holder stops renewing."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bot.state import MemoryState
from bot.state.lease import Lease


async def test_success_makes_the_claim_final() -> None:
    state = MemoryState()
    lease = await Lease.take(state, "m1", 0.3)
    assert lease is not None
    tasks: set[asyncio.Task[Any]] = set()
    async with lease.held(60, tasks=tasks):
        assert asyncio.current_task() in tasks
        assert await Lease.take(state, "m1", 0.3) is None
        await asyncio.sleep(0.6)  # twice the lease: renewed meanwhile
        assert await Lease.take(state, "m1", 0.3) is None
    assert not tasks
    await asyncio.sleep(0.5)
    assert await Lease.take(state, "m1", 0.3) is None  # final: kept for 60 s


async def test_failure_releases_the_claim() -> None:
    state = MemoryState()
    lease = await Lease.take(state, "m2", 30)
    assert lease is not None
    with pytest.raises(RuntimeError):
        async with lease.held(60):
            raise RuntimeError("the answer failed")
    assert await Lease.take(state, "m2", 30) is not None  # free again at once


async def test_cancellation_releases_the_claim() -> None:
    state = MemoryState()
    started = asyncio.Event()

    async def work() -> None:
        lease = await Lease.take(state, "m3", 30)
        assert lease is not None
        async with lease.held(60):
            started.set()
            await asyncio.sleep(3600)

    task = asyncio.create_task(work())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await Lease.take(state, "m3", 30) is not None


async def test_a_holder_that_stops_renewing_loses_the_claim() -> None:
    state = MemoryState()
    assert await Lease.take(state, "m4", 0.2) is not None  # never held: no renewal
    assert await Lease.take(state, "m4", 0.2) is None
    await asyncio.sleep(0.35)
    assert await Lease.take(state, "m4", 0.2) is not None
