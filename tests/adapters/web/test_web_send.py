"""Proactive sends to web chat users in a running FreeChat: a scheduled text reaches
every socket the user has open as a ``notice`` frame, and only that user's."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.adapters.web.test_web_chat import PASSWORD, WebChat


async def login(bp: Any, name: str) -> httpx.Cookies:
    async with httpx.AsyncClient(base_url=bp.base_url) as client:
        r = await client.post(
            "/api/auth/login", json={"username": name, "password": PASSWORD}
        )
        assert r.status_code == 200
        return client.cookies


async def test_notice_frames_on_the_users_sockets(bot_process: Any) -> None:
    bp = await bot_process()
    for name in ("alice", "bob"):
        await asyncio.to_thread(bp.cli, "user", "add", name, input=PASSWORD + "\n")
    alice, bob = await login(bp, "alice"), await login(bp, "bob")
    async with (
        WebChat(bp.base_url, alice) as tab1,
        WebChat(bp.base_url, alice) as tab2,
        WebChat(bp.base_url, bob) as other,
    ):
        await asyncio.to_thread(
            bp.cli,
            "schedule",
            "add",
            "--every",
            "60",
            "--target",
            "web:user:alice",
            "--text",
            "提醒：喝水",
            "--name",
            "water",
        )
        await asyncio.to_thread(bp.cli, "schedule", "run-now", "water")
        for tab in (tab1, tab2):
            assert await tab.recv(30) == {"type": "notice", "text": "提醒：喝水"}
        await other.raw({"type": "ping"})
        assert await other.recv() == {"type": "pong"}  # nothing came before it
