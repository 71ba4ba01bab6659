"""Sign-in limits that nobody can turn into a lock-out (issue 11, F7): wrong
passwords lock the (name, address) pair; only a spray from many addresses locks the
name, and never for an address the user signed in from before.

Several client addresses on one machine: 127.0.0.2, 127.0.0.3, ... are loopback
addresses too, and a client socket may bind any of them."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

PASSWORD = "correct horse battery"


@pytest.fixture
async def bot(bot_process: Any) -> Any:
    bp = await bot_process({"plugins": {"chat": {}}, "auth": {"login_attempts": 3}})
    bp.cli("user", "add", "alice", input=PASSWORD + "\n")
    return bp


async def _login(bot: Any, address: str, password: str) -> int:
    transport = httpx.AsyncHTTPTransport(local_address=address)
    async with httpx.AsyncClient(base_url=bot.base_url, transport=transport) as c:
        r = await c.post(
            "/api/auth/login", json={"username": "alice", "password": password}
        )
        return r.status_code


async def test_guessing_from_one_address_locks_only_that_address(bot: Any) -> None:
    codes = [await _login(bot, "127.0.0.2", "wrong-guess") for _ in range(5)]
    assert codes == [401, 401, 401, 429, 429]
    assert await _login(bot, "127.0.0.2", PASSWORD) == 429  # this pair is locked
    # the user, from anywhere else, is not locked out
    assert await _login(bot, "127.0.0.1", PASSWORD) == 200
    assert await _login(bot, "127.0.0.4", PASSWORD) == 200


async def test_a_spray_locks_the_name_except_for_known_addresses(bot: Any) -> None:
    assert await _login(bot, "127.0.0.1", PASSWORD) == 200  # a known address
    # 2 guesses from each of 16 addresses: under the per-pair limit each time
    for n in range(10, 26):
        for _ in range(2):
            assert await _login(bot, f"127.0.0.{n}", "spray-guess") in (401, 429)
    assert await _login(bot, "127.0.0.99", PASSWORD) == 429  # name locked ...
    assert await _login(bot, "127.0.0.1", PASSWORD) == 200  # ... not for her
