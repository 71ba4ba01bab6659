"""A change made through one instance's admin API is in effect on another within
1 s: two FreeChat processes sharing PostgreSQL and Redis."""

from __future__ import annotations

import asyncio
import secrets
import time

from tests.webui.test_admin_api import PASSWORD, sign_in

WITHIN = 1.0


async def _until(check, timeout: float = 10.0) -> float:
    """Seconds until ``check()`` is true (polled every 20 ms)."""
    started = time.monotonic()
    while not await check():
        if time.monotonic() - started > timeout:
            raise AssertionError("the change never arrived")
        await asyncio.sleep(0.02)
    return time.monotonic() - started


async def test_change_on_a_is_in_effect_on_b(bot_process, pg_url, redis_url) -> None:
    shared = {
        "database": {"url": pg_url},
        "state": {"url": redis_url},
        "auth": {"jwt_secret": secrets.token_urlsafe(32)},
        "plugins": {"chat": {}, "admin": {}, "sensitive_words": {}, "keywords": {}},
    }
    a = await bot_process(shared)
    b = await bot_process(shared)
    a.cli("user", "add", "root", "--role", "admin", input=PASSWORD + "\n")
    ca, cb = await sign_in(a.base_url, "root"), await sign_in(b.base_url, "root")
    try:
        # a sensitive word: B's running filter (not its database) must know it
        word = "zq" + secrets.token_hex(3)
        probe = {"text": f"say {word} now"}

        async def b_filters() -> bool:
            r = await cb.post("/api/admin/sensitive-words/test", json=probe)
            return bool(r.json()["hits"])

        assert not await b_filters()
        r = await ca.post("/api/admin/sensitive-words", json={"word": word})
        assert r.status_code == 201
        word_s = await _until(b_filters)

        # a group's wake mode: B's in-memory settings, which its adapters apply
        async def b_applies() -> bool:
            r = await cb.get("/api/admin/groups/qq:4242")
            return r.status_code == 200 and r.json()["applied"]["wake"] == "all"

        r = await ca.patch(
            "/api/admin/groups/qq:4242", json={"settings": {"wake": "all"}}
        )
        assert r.status_code == 200
        group_s = await _until(b_applies)

        # both instances see each other online
        async def both_online() -> bool:
            ov = (await cb.get("/api/admin/overview")).json()
            return len(ov["instances_online"]) >= 2

        await _until(both_online, timeout=30)
        print(
            f"word on B after {word_s * 1000:.0f} ms, group after {group_s * 1000:.0f} ms"
        )
        assert word_s < WITHIN
        assert group_s < WITHIN
    finally:
        await ca.aclose()
        await cb.aclose()
